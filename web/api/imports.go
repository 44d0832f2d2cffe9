package api

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/web/view"
)

// Content types of the import template.
const (
	TypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	TypeCSV  = "text/csv"
)

// ImportAccepts are the bodies an import or a check takes: the file as it
// is, or a form with the part "file".
var ImportAccepts = []string{TypeXLSX, TypeCSV, "application/octet-stream", "multipart/form-data"}

func (h *Handler) importer() *imports.Importer {
	im := imports.New(h.st, h.svc)
	im.Limits = im.Limits.With(h.importLimits)
	return im
}

// templateLang is ?lang=, the language of the template's headers: one of
// the built-in languages, English by default.
func templateLang(r *http.Request) (string, error) {
	q := unpagedQuery(r, "lang")
	lang := q.oneOf("lang", imports.Languages...)
	if lang == "" {
		lang = "en"
	}
	return lang, q.err()
}

func (h *Handler) ImportTemplateXLSX(r *http.Request, c *Call) (any, error) {
	lang, err := templateLang(r)
	if err != nil {
		return nil, err
	}
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	b, err := h.importer().TemplateXLSX(r.Context(), c.tenant, lang)
	if err != nil {
		return nil, err
	}
	return view.File{ContentType: TypeXLSX, Filename: c.tenant.Slug + "-import.xlsx", Body: b}, nil
}

func (h *Handler) ImportTemplateCSV(r *http.Request, c *Call) (any, error) {
	lang, err := templateLang(r)
	if err != nil {
		return nil, err
	}
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	b, err := h.importer().TemplateCSV(r.Context(), c.tenant, lang)
	if err != nil {
		return nil, err
	}
	return view.File{ContentType: TypeCSV + "; charset=utf-8", Filename: c.tenant.Slug + "-import.csv", Body: b}, nil
}

// Import takes an XLSX or CSV file, as the body or as the part "file" of a
// multipart form, and answers with the report of every row; with
// ?dry_run=true it writes nothing.
func (h *Handler) Import(r *http.Request, c *Call) (any, error) {
	q := unpagedQuery(r, "dry_run")
	dry := q.boolean("dry_run")
	if err := q.err(); err != nil {
		return nil, err
	}
	im := h.importer()
	name, body, err := uploaded(r, im.Limits.MaxBytes)
	if err != nil {
		return nil, err
	}
	if dry {
		send, err := im.DryRunJSONFrom(r.Context(), c.actor, c.tenant, body)
		if err != nil {
			return nil, err
		}
		return view.File{ContentType: "application/json", Stream: send}, nil
	}
	j, err := im.StartFrom(r.Context(), c.actor, c.tenant, name, body)
	if err != nil {
		return nil, err
	}
	return Answer{Status: http.StatusAccepted, Body: j}, nil
}

// ListImports is the tenant's imports, newest first.
func (h *Handler) ListImports(r *http.Request, c *Call) (any, error) {
	q := newQuery(r)
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	jobs, next, err := h.importer().Jobs(r.Context(), c.actor, c.tenant, o)
	return paged(jobs, next, err)
}

// GetImport is an import's state and progress.
func (h *Handler) GetImport(r *http.Request, c *Call) (any, error) {
	if err := unpagedQuery(r).err(); err != nil {
		return nil, err
	}
	return h.importer().Job(r.Context(), c.actor, c.tenant, r.PathValue("id"))
}

// CancelImport stops an import: the rows created stay.
func (h *Handler) CancelImport(r *http.Request, c *Call) (any, error) {
	if err := unpagedQuery(r).err(); err != nil {
		return nil, err
	}
	return h.importer().Cancel(r.Context(), c.actor, c.tenant, r.PathValue("id"))
}

// ImportReport is an import's report as a file, XLSX or CSV by the path:
// the file's rows, each with its result.
func (h *Handler) ImportReport(r *http.Request, c *Call) (any, error) {
	if err := unpagedQuery(r).err(); err != nil {
		return nil, err
	}
	format, ct := "xlsx", TypeXLSX
	if strings.HasSuffix(r.URL.Path, ".csv") {
		format, ct = "csv", TypeCSV+"; charset=utf-8"
	}
	id := r.PathValue("id")
	write, err := h.importer().ReportTo(r.Context(), c.actor, c.tenant, id, format)
	if err != nil {
		return nil, err
	}
	return view.File{ContentType: ct, Filename: "import-" + id + "." + format, Stream: write}, nil
}

// uploaded finds the file of an upload, with its name from the form or the
// Content-Disposition header, for the audit. The file is read as the
// importer stores it, never whole: its reader refuses more than limit
// bytes, and says what broke off.
func uploaded(r *http.Request, limit int64) (string, io.Reader, error) {
	tooLarge := &usher.Error{Code: view.CodeTooLarge, Field: "file", Message: fmt.Sprintf("the file is larger than the limit of %d MB", limit>>20)}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if !slices.Contains(ImportAccepts, mt) {
		return "", nil, &usher.Error{Code: view.CodeMediaType, Field: "Content-Type",
			Message: "send the file as " + strings.Join(ImportAccepts, ", ") + " (a file is not " + cmp.Or(mt, "without a type") + ")"}
	}
	if r.ContentLength > limit+64<<10 {
		return "", nil, tooLarge // no form's parts around a file add that much
	}
	body := io.Reader(r.Body)
	_, disp, _ := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
	name := disp["filename"]
	if mt == "multipart/form-data" {
		// The parts are read as they come: the file is not parsed into
		// memory or to disk as ParseMultipartForm would.
		mr, err := r.MultipartReader()
		if err != nil {
			return "", nil, &usher.Error{Code: view.CodeMalformed, Field: "file", Message: "the multipart form cannot be read: " + err.Error()}
		}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return "", nil, usher.Invalid("file", "the form has no part named \"file\"")
			} else if err != nil {
				return "", nil, &usher.Error{Code: view.CodeMalformed, Field: "file", Message: "the multipart form cannot be read: " + err.Error()}
			}
			if p.FormName() == "file" {
				body, name = p, p.FileName()
				break
			}
		}
	}
	return name, &uploadReader{r: body, left: limit, tooLarge: tooLarge}, nil
}

// uploadReader reads an upload up to its limit: one byte more is refused
// as too large, and a read that fails is the upload breaking off.
type uploadReader struct {
	r        io.Reader
	left     int64
	tooLarge error
}

func (u *uploadReader) Read(p []byte) (int, error) {
	if u.left < 0 {
		return 0, u.tooLarge
	}
	if int64(len(p)) > u.left+1 {
		p = p[:u.left+1]
	}
	n, err := u.r.Read(p)
	u.left -= int64(n)
	if u.left < 0 {
		return 0, u.tooLarge
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, &usher.Error{Code: view.CodeMalformed, Field: "file", Message: "the upload broke off: " + err.Error()}
	}
	return n, err
}

// ImportCheckFile is the dry run as a file: the rows as read, each with its
// result and problems in added columns, as XLSX or CSV by the path.
func (h *Handler) ImportCheckFile(r *http.Request, c *Call) (any, error) {
	if err := unpagedQuery(r).err(); err != nil {
		return nil, err
	}
	im := h.importer()
	_, body, err := uploaded(r, im.Limits.MaxBytes)
	if err != nil {
		return nil, err
	}
	format, ct := "xlsx", TypeXLSX
	if strings.HasSuffix(r.URL.Path, ".csv") {
		format, ct = "csv", TypeCSV+"; charset=utf-8"
	}
	send, err := im.CheckFileFrom(r.Context(), c.actor, c.tenant, body, format)
	if err != nil {
		return nil, err
	}
	return view.File{ContentType: ct, Filename: "import-check." + format, Stream: send}, nil
}
