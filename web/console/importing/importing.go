// Package importing is the tenant console's import of people from Excel
// or CSV: the template to download, the check of a file (a dry run that
// writes nothing), the import as a job with its progress, and its report.
// Package imports reads the files and imports through provision.
package importing

import (
	"cmp"
	"embed"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
	"github.com/usherhq/usher/web/view"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are this package's console pages.
var pages = console.Pages(templateFS, "imports", "import")

// Handler serves the console's imports.
type Handler struct {
	*console.Console
	svc          *provision.Service
	importLimits imports.Limits
}

// New returns the imports' handler; zero fields of limits take the defaults.
func New(con *console.Console, svc *provision.Service, limits imports.Limits) *Handler {
	return &Handler{Console: con, svc: svc, importLimits: limits}
}

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// importTimeout bounds an upload and its import from the console.
const importTimeout = 15 * time.Minute

// shownRows bounds the rows without problems the import page lists; rows
// with problems are always listed.
const shownRows = 100

// Imports is the import page: the template to download, a file to check
// (the dry run, which writes nothing) or to import, and the report.
func (h *Handler) Imports(w http.ResponseWriter, r *http.Request, c *console.Call) {
	im := h.importer()
	c.Data.Title, c.Data.Section = "Import people", "imports"
	data := map[string]any{"Lang": h.templateLang(c)}
	c.Data.Data = data
	status := http.StatusOK
	if r.Method == http.MethodGet {
		jobs, next, err := im.Jobs(r.Context(), c.Actor, c.Tenant, store.ListOptions{After: r.URL.Query().Get("after"), Limit: 20})
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		data["Jobs"], data["Next"] = jobs, console.NextURL(r, next)
	}
	if r.Method == http.MethodPost {
		// A large file takes longer to send and to import than the
		// server's timeouts allow a page.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(importTimeout))
		_ = rc.SetWriteDeadline(time.Now().Add(importTimeout))
		action, name, file, err := upload(r, im.Limits.MaxBytes)
		if file != nil {
			defer func() { file.Close(); os.Remove(file.Name()) }()
		}
		var rep imports.Report
		if err == nil && action == "report" {
			// The check as a workbook to correct: every row with its result.
			var send func(io.Writer) error
			if send, err = im.CheckFileFrom(r.Context(), c.Actor, c.Tenant, file, "xlsx"); err == nil {
				view.File{ContentType: xlsxType, Filename: "import-check.xlsx", Stream: send}.Write(w, http.StatusOK)
				return
			}
		} else if err == nil && action == "import" {
			// The import runs as a job; its page shows how far it got.
			var j imports.Job
			if j, err = im.StartFrom(r.Context(), c.Actor, c.Tenant, name, file); err == nil {
				h.Redirect(w, r, c.Data.Admin+"imports/"+j.ID, "")
				return
			}
		}
		// The rows shown: every one with a problem, first, then the first
		// others (in a large file the problems came after a hundred rows
		// to create).
		var shown, others []imports.RowResult
		more := 0
		if err == nil && action != "report" && action != "import" {
			rep, err = im.DryRunEachFrom(r.Context(), c.Actor, c.Tenant, file, func(x imports.RowResult) error {
				switch {
				case len(x.Problems) > 0:
					shown = append(shown, x)
				case len(others) < shownRows:
					others = append(others, x)
				default:
					more++
				}
				return nil
			})
			shown = append(shown, others...)
		}
		var ue *usher.Error
		if errors.As(err, &ue) && ue.Field == "file" {
			c.Data.Errors["file"] = view.Sentence(ue.Message)
			h.View.Console(w, r, view.Status(ue.Code), pages["imports"], c.Data)
			return
		} else if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		data["Report"], data["Shown"], data["More"], data["FileName"] = rep, shown, more, name
	}
	h.View.Console(w, r, status, pages["imports"], c.Data)
}

func (h *Handler) importer() *imports.Importer {
	im := imports.New(h.Store, h.svc)
	im.Limits = im.Limits.With(h.importLimits)
	return im
}

// refreshEvery is how often a running import's page reloads itself.
const refreshEvery = 2

// Import is an import's page: while it runs, its progress, reloading
// itself without scripts; then what it did, the rows with problems, and
// the report to download.
func (h *Handler) Import(w http.ResponseWriter, r *http.Request, c *console.Call) {
	im := h.importer()
	j, err := im.Job(r.Context(), c.Actor, c.Tenant, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section = "Import of "+cmp.Or(j.FileName, "a file"), "imports"
	data := map[string]any{"Job": j}
	c.Data.Data = data
	if !j.Ended() {
		c.Data.Refresh = refreshEvery
		h.View.Console(w, r, http.StatusOK, pages["import"], c.Data)
		return
	}
	shown, more, err := im.NotCreated(r.Context(), c.Actor, c.Tenant, j.ID, shownRows)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	data["Shown"], data["More"] = shown, more
	h.View.Console(w, r, http.StatusOK, pages["import"], c.Data)
}

// CancelImport stops an import and goes back to its page.
func (h *Handler) CancelImport(w http.ResponseWriter, r *http.Request, c *console.Call) {
	j, err := h.importer().Cancel(r.Context(), c.Actor, c.Tenant, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	notice := ""
	if j.State == "cancelled" {
		notice = "The import is cancelled. The people it created stay; the other rows are not imported."
	}
	h.Redirect(w, r, c.Data.Admin+"imports/"+j.ID, notice)
}

// ImportReport downloads an import's report, XLSX or CSV by the path.
func (h *Handler) ImportReport(w http.ResponseWriter, r *http.Request, c *console.Call) {
	format, ct := "xlsx", xlsxType
	if strings.HasSuffix(r.URL.Path, ".csv") {
		format, ct = "csv", "text/csv; charset=utf-8"
	}
	id := r.PathValue("id")
	write, err := h.importer().ReportTo(r.Context(), c.Actor, c.Tenant, id, format)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	view.File{ContentType: ct, Filename: "import-report." + format, Stream: write}.Write(w, http.StatusOK)
}

// templateLang is the administrator's language when built in, for the
// template's headers.
func (h *Handler) templateLang(c *console.Call) string {
	for _, l := range imports.Languages {
		if l == c.Current.Account.Language {
			return l
		}
	}
	return "en"
}

// ImportTemplate downloads the import template, XLSX or CSV, with headers
// in the administrator's language.
func (h *Handler) ImportTemplate(w http.ResponseWriter, r *http.Request, c *console.Call) {
	im := h.importer()
	lang := h.templateLang(c)
	var f view.File
	var err error
	switch {
	case strings.HasSuffix(r.URL.Path, ".xlsx"):
		f = view.File{ContentType: xlsxType, Filename: c.Tenant.Slug + "-import.xlsx"}
		f.Body, err = im.TemplateXLSX(r.Context(), c.Tenant, lang)
	default:
		f = view.File{ContentType: "text/csv; charset=utf-8", Filename: c.Tenant.Slug + "-import.csv"}
		f.Body, err = im.TemplateCSV(r.Context(), c.Tenant, lang)
	}
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	f.Write(w, http.StatusOK)
}

// upload reads the import form: the file (at most limit bytes), its name,
// and which button was pressed. The file goes to a temporary file as it
// arrives (the button may come after it in the form), never whole into
// memory; the caller closes and removes it.
func upload(r *http.Request, limit int64) (action, name string, file *os.File, err error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return "", "", nil, usher.Invalid("file", "choose a file to upload")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return "", "", nil, usher.Invalid("file", "the upload cannot be read")
	}
	defer func() {
		if err != nil && file != nil {
			file.Close()
			os.Remove(file.Name())
			file = nil
		}
	}()
	n := int64(0)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", "", file, usher.Invalid("file", "the upload broke off")
		}
		switch p.FormName() {
		case "file":
			if file != nil {
				continue
			}
			name = p.FileName()
			if file, err = os.CreateTemp("", "usher-upload-*"); err != nil {
				return "", "", nil, err
			}
			if n, err = io.Copy(file, io.LimitReader(p, limit+1)); err != nil {
				return "", "", file, usher.Invalid("file", "the upload broke off")
			}
			if n > limit {
				return "", "", file, usher.Invalid("file", "the file is larger than the limit of %d MB", limit>>20)
			}
			if _, err := file.Seek(0, io.SeekStart); err != nil {
				return "", "", file, err
			}
		case "action":
			b, _ := io.ReadAll(io.LimitReader(p, 16))
			action = strings.TrimSpace(string(b))
		}
	}
	if name == "" && n == 0 {
		return "", "", file, usher.Invalid("file", "choose a file to upload")
	}
	if file == nil {
		return "", "", nil, usher.Invalid("file", "choose a file to upload")
	}
	return action, name, file, nil
}
