package imports

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports/spreadsheet"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// Importer makes templates and imports files into a tenant. It reads the
// store, and changes the directory only through provision.
type Importer struct {
	st     *store.Store
	svc    *provision.Service
	Limits Limits
}

// New returns an Importer with the default limits.
func New(st *store.Store, svc *provision.Service) *Importer {
	return &Importer{st: st, svc: svc, Limits: DefaultLimits}
}

// Results of a row.
const (
	ResultCreate  = "create"  // the dry run would create it
	ResultCreated = "created" // the import created it
	ResultSkipped = "skipped" // it is someone who has an account already
	ResultRefused = "refused" // it has problems; nothing was written
	// ResultNotImported: the import was cancelled, or failed, before the row.
	ResultNotImported = "not imported"
)

// Problem is one thing wrong with a row, on a column when it has one.
type Problem struct {
	Column  string `json:"column,omitempty"` // the header as in the file
	Message string `json:"message"`
	// Text says it whole: row 17, column "Email": ….
	Text string `json:"text"`
}

// RowResult is what happens, or happened, to one row.
type RowResult struct {
	Row       int       `json:"row"` // as the spreadsheet numbers it; the header is row 1
	Result    string    `json:"result"`
	PersonID  string    `json:"person_id,omitempty"`
	AccountID string    `json:"account_id,omitempty"`
	Problems  []Problem `json:"problems,omitempty"`
}

// PlanSeats compares the seats a file's rows take on a plan with those free.
type PlanSeats struct {
	PlanID string `json:"plan_id"`
	Plan   string `json:"plan"`
	Needed int    `json:"needed"`
	Free   int    `json:"free"`
}

// Report is a dry run's or an import's account of every row.
type Report struct {
	// ID is the import's, as its audit event and its rows' creations name
	// it; "" for a dry run.
	ID       string      `json:"id,omitempty"`
	DryRun   bool        `json:"dry_run"`
	Format   string      `json:"format"` // "xlsx" or "csv"
	Columns  []string    `json:"columns"`
	Rows     int         `json:"rows"`
	ToCreate int         `json:"to_create"` // dry run: rows that would be created
	Created  int         `json:"created"`
	Skipped  int         `json:"skipped"`
	Refused  int         `json:"refused"`
	Seats    []PlanSeats `json:"seats"`
	Results  []RowResult `json:"results"`
}

// loginKeys are the columns of login identifiers, in the order of row.ids.
var loginKeys = [3]string{"email", "username", "phone"}

// row is a row of the file on its way to an account.
type row struct {
	res     RowResult
	cells   []string // as read, for a check as a file
	in      provision.AccountInput
	ids     [3]string // normalized email, username and phone, as loginKeys
	flagged uint32    // the columns with a problem already, by bit
}

// file is a read file: its columns and rows.
type file struct {
	sh   *sheet
	rows []*row
	// keepCells keeps each row's cells as read, for a check as a file.
	keepCells bool
	// taken, when not nil, holds the identifiers of the file that already
	// sign in to an account, looked up before the rows' creations began.
	taken map[string]bool
}

// header is the column's header as the file writes it, or its English label.
func (f *file) header(c *column) string {
	for i, x := range f.sh.cols {
		if x == c {
			return f.sh.headers[i]
		}
	}
	return c.labels[0]
}

func (f *file) problem(r *row, c *column, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p := Problem{Message: msg, Text: fmt.Sprintf("row %d: %s", r.res.Row, msg)}
	if c != nil {
		if r.flagged&c.bit != 0 {
			return // the first problem of a column is the most specific
		}
		r.flagged |= c.bit
		p.Column = f.header(c)
		p.Text = fmt.Sprintf("row %d, column %q: %s", r.res.Row, p.Column, msg)
	}
	r.res.Problems = append(r.res.Problems, p)
}

// DryRun reports what importing data would do to every row, writing nothing.
func (im *Importer) DryRun(ctx context.Context, actor usher.Actor, t usher.Tenant, data []byte) (Report, error) {
	return im.dryRun(ctx, actor, t, spreadsheet.Bytes(data))
}

// DryRunFrom is DryRun of the file that body gives, as an upload does:
// the file is spooled to a temporary file, not held in memory.
func (im *Importer) DryRunFrom(ctx context.Context, actor usher.Actor, t usher.Tenant, body io.Reader) (Report, error) {
	return im.DryRunEachFrom(ctx, actor, t, body, nil)
}

// DryRunEachFrom is DryRunFrom telling each row's result to each, in
// order, as it is decided: the report it returns then has the counts and
// no results, and a file of many rows is never held (nil each keeps the
// results in the report).
func (im *Importer) DryRunEachFrom(ctx context.Context, actor usher.Actor, t usher.Tenant, body io.Reader, each func(RowResult) error) (Report, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return Report{}, err
	}
	src, done, err := im.spool(body)
	if err != nil {
		return Report{}, err
	}
	defer done()
	if each == nil {
		return im.dryRun(ctx, actor, t, src)
	}
	return im.dryRunEach(ctx, actor, t, src, each)
}

// DryRunJSONFrom is DryRunFrom's report as JSON, the same JSON as the
// report encoded whole, with the rows' results spooled to a temporary
// file as they are decided instead of held (80 bytes a row, and as many
// again encoded). The check is done when it returns, so that a refusal
// comes before anything is sent; send writes the report to w and removes
// the file, and must be called once.
func (im *Importer) DryRunJSONFrom(ctx context.Context, actor usher.Actor, t usher.Tenant, body io.Reader) (send func(w io.Writer) error, err error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	spool, err := os.CreateTemp("", "usher-dry-run-*")
	if err != nil {
		return nil, fmt.Errorf("a temporary file for the dry run's results: %w", err)
	}
	remove := func() { spool.Close(); os.Remove(spool.Name()) }
	handed := false // to send, which removes it
	defer func() {
		if !handed {
			remove() // an error, or a panic in the check
		}
	}()
	bw := bufio.NewWriterSize(spool, 64<<10)
	enc := json.NewEncoder(bw)
	n := 0
	rep, err := im.DryRunEachFrom(ctx, actor, t, body, func(res RowResult) error {
		if n++; n > 1 {
			bw.WriteByte(',')
		}
		return enc.Encode(res) // its newline is JSON whitespace
	})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		_, err = spool.Seek(0, io.SeekStart)
	}
	var head []byte
	if err == nil {
		// The report's fields in their order, results last and empty: the
		// results go between its brackets.
		rep.Results = []RowResult{}
		head, err = json.Marshal(rep)
	}
	if err != nil {
		return nil, err
	}
	head = head[:len(head)-len("]}")]
	handed = true
	return func(w io.Writer) error {
		defer remove()
		if _, err := w.Write(head); err != nil {
			return err
		}
		if _, err := io.Copy(w, spool); err != nil {
			return err
		}
		_, err := io.WriteString(w, "]}\n")
		return err
	}, nil
}

func (im *Importer) dryRun(ctx context.Context, actor usher.Actor, t usher.Tenant, src spreadsheet.Source) (Report, error) {
	var results []RowResult
	rep, err := im.dryRunEach(ctx, actor, t, src, func(res RowResult) error {
		results = append(results, res)
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	if results == nil {
		results = []RowResult{}
	}
	rep.Results = results
	return rep, nil
}

func (im *Importer) dryRunEach(ctx context.Context, actor usher.Actor, t usher.Tenant, src spreadsheet.Source, each func(RowResult) error) (Report, error) {
	rep := Report{DryRun: true}
	sh, seats, err := im.check(ctx, actor, t, src, func(_ *sheet, r *row) error {
		rep.Rows++
		switch r.res.Result {
		case ResultCreate:
			rep.ToCreate++
		case ResultSkipped:
			rep.Skipped++
		case ResultRefused:
			rep.Refused++
		}
		return each(r.res)
	})
	if err != nil {
		return Report{}, err
	}
	rep.Format, rep.Columns, rep.Seats = sh.format, []string{}, seats
	for i, h := range sh.headers {
		if sh.cols[i] != nil {
			rep.Columns = append(rep.Columns, h)
		}
	}
	return rep, nil
}

// batchRows is how many rows a CreateAccounts call takes, importBatches how
// many calls run at once.
var (
	batchRows     = 250
	importBatches = 4
)

// create creates rows through provision, each recording its result with
// its account (by.ID is the import's id, owner the worker holding it), and
// sets each one's result. A row that another worker recorded meanwhile, or
// any row once the worker lost the import, is left without one.
func (im *Importer) create(ctx context.Context, by usher.Actor, t usher.Tenant, f *file, rows []*row, owner string) error {
	if len(rows) == 0 {
		return nil
	}
	in := make([]provision.AccountInput, len(rows))
	for i, r := range rows {
		in[i] = r.in
		in[i].ImportRow = &provision.ImportRow{ImportID: by.ID, Owner: owner, Row: r.res.Row}
	}
	out := im.svc.CreateAccounts(ctx, by, t, in)
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx) // the rows created are recorded; the others wait
	}
	for i, r := range rows {
		if err := out[i].Err; err != nil {
			var e *usher.Error
			conflict := errors.As(err, &e) && e.Code == usher.CodeConflict
			switch {
			case conflict && e.Field == "import_row":
				r.res.Result = ""
				continue
			case conflict && (e.Field == "email" || e.Field == "username" || e.Field == "phone"):
				// Taken since the check: still someone who exists.
				r.res.Result = ResultSkipped
			default:
				r.res.Result = ResultRefused
			}
			if err := f.explain(r, err); err != nil {
				return err
			}
			continue
		}
		r.res.Result = ResultCreated
		r.res.PersonID = out[i].Created.Person.ID
		r.res.AccountID = out[i].Created.Account.ID
	}
	return nil
}

// explain adds a provision error's problems to r, each on its column.
// An internal error is returned: it says nothing about the row.
func (f *file) explain(r *row, err error) error {
	var list usher.Errors
	var one *usher.Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = usher.Errors{one}
	default:
		return err
	}
	for _, e := range list {
		if e.Code == usher.CodeInternal {
			return e
		}
		msg := e.Message
		if msg == "" {
			msg = string(e.Code)
		}
		f.problem(r, columnFor(e.Field), "%s", msg)
	}
	return nil
}

// check reads src and decides every row: refused for its problems,
// skipped when someone already signs in with its identifiers, or to
// create; each receives the rows in their order, decided, a batch at a
// time. It writes nothing, and reads src twice, as the worker does, so
// that it holds 20 bytes per identifier rather than the rows: first for
// the identifiers that rows share and those already taken, then a batch
// of rows at a time. It returns the file's sheet and the seats the rows
// to create need.
func (im *Importer) check(ctx context.Context, actor usher.Actor, t usher.Tenant, src spreadsheet.Source, each func(sh *sheet, r *row) error) (*sheet, []PlanSeats, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, nil, err
	}
	cat, err := loadCatalogues(ctx, im.st, t)
	if err != nil {
		return nil, nil, err
	}
	f, keys := &file{}, newKeyIndex(0)
	taken := map[string]bool{}
	var look []*row
	lookUp := func() error {
		got, err := im.taken(ctx, t, look)
		maps.Copy(taken, got)
		look = look[:0]
		return err
	}
	err = read(ctx, src, im.Limits, func(sh *sheet) (spreadsheet.RowFunc, error) {
		f.sh = sh
		return func(num int, cells []string) error {
			r := f.parse(cat, num, cells)
			keys.add(r)
			if look = append(look, r); len(look) < takenPerQuery {
				return nil
			}
			return lookUp()
		}, nil
	})
	if err == nil {
		err = lookUp()
	}
	if err != nil {
		return nil, nil, err
	}
	keys.seal()
	need := map[string]int{}
	var plans []string
	var part []*row
	batch := func() error {
		b := &file{sh: f.sh, rows: part, taken: taken, keepCells: f.keepCells}
		defer func() { part = part[:0] }()
		if err := im.validate(ctx, actor, t, b, true); err != nil {
			return err
		}
		for _, r := range part {
			if r.res.Result == ResultCreate {
				plan := cmp.Or(r.in.PlanID, t.Settings.DefaultPlanID)
				if need[plan] == 0 {
					plans = append(plans, plan)
				}
				need[plan]++
			}
			if err := each(f.sh, r); err != nil {
				return err
			}
		}
		return nil
	}
	f.keepCells = true // for each, a batch's rows at a time
	err = read(ctx, src, im.Limits, func(sh *sheet) (spreadsheet.RowFunc, error) {
		f.sh = sh
		return func(num int, cells []string) error {
			r := f.parse(cat, num, cells)
			keys.apply(f, r)
			if part = append(part, r); len(part) < batchRows {
				return nil
			}
			return batch()
		}, nil
	})
	if err == nil && len(part) > 0 {
		err = batch()
	}
	if err != nil {
		return nil, nil, err
	}
	seats, err := im.seats(ctx, t, need, plans)
	return f.sh, seats, err
}

// parse turns a row's cells into an account's input, resolving the names
// of catalogue entries.
func (f *file) parse(cat *catalogues, num int, cells []string) *row {
	r := &row{res: RowResult{Row: num}}
	if f.keepCells {
		r.cells = slices.Clone(cells)
	}
	p := &provision.PersonInput{}
	r.in = provision.AccountInput{Route: provision.RouteImport, Person: p}
	for i, v := range cells {
		if v == "" {
			continue
		}
		var c *column
		if i < len(f.sh.cols) {
			if f.sh.ignored[i] {
				continue
			}
			c = f.sh.cols[i]
		}
		if c == nil {
			f.problem(r, nil, "column %s holds %q but has no header", spreadsheet.ColumnName(i), v)
			continue
		}
		ref := func(list string) string {
			id, err := cat.resolve(list, v)
			if err != nil {
				f.problem(r, c, "%v", err)
			}
			return id
		}
		switch c.key {
		case "first_name":
			p.FirstName = v
		case "last_name":
			p.LastName = v
		case "email":
			p.Email = v
			r.ids[0], _ = usher.NormalizeEmail("email", v)
		case "phone":
			if msg := asNumber(v); msg != "" {
				f.problem(r, c, "%s %s; format the column as text and type the number with + and the country code, like +31 6 1234 5678", v, msg)
				continue
			}
			p.Phone = v
			r.ids[2], _ = usher.NormalizePhone("phone", v)
		case "username":
			r.in.Username = v
			u, _ := usher.CheckUsername("username", v)
			r.ids[1] = strings.ToLower(u) // as the store keeps login identifiers
		case "organization":
			p.OrganizationID = ref(listOrganizations)
		case "department":
			p.DepartmentID = ref(usher.KindDepartment)
		case "job_profile":
			p.JobProfileID = ref(usher.KindJobProfile)
		case "role":
			r.in.RoleID = ref(usher.KindRole)
		case "plan":
			r.in.PlanID = ref(listPlans)
		case "primary_group":
			r.in.PrimaryGroupID = ref(usher.KindGroup)
		case "groups":
			for _, g := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == '\n' }) {
				if g = strings.TrimSpace(g); g == "" {
					continue
				}
				id, err := cat.resolve(usher.KindGroup, g)
				if err != nil {
					f.problem(r, c, "%v", err)
					continue
				}
				r.in.GroupIDs = append(r.in.GroupIDs, id)
			}
		case "language":
			p.Language = strings.ToLower(v)
		case "external_id":
			p.ExternalID = v
		case "one_time_password":
			r.in.OneTimePassword = v
			if err := provision.CheckOneTimePassword(v); err != nil {
				_ = f.explain(r, err)
			}
		}
	}
	return r
}

// asNumber says how a phone number was kept as a number by a spreadsheet,
// or "": a number cannot hold a + or a leading zero, so what is left is not
// guessed into a country.
func asNumber(v string) string {
	if strings.HasPrefix(v, "+") || strings.ContainsAny(v, " ()-/") {
		return ""
	}
	// Excel's CSV writes what it shows: 4,71235E+10 in much of Europe.
	if _, err := strconv.ParseFloat(strings.Replace(v, ",", ".", 1), 64); err != nil {
		return ""
	}
	if strings.ContainsAny(v, "eE.,") {
		return "was stored as a number, in a form that may have lost digits as well as the +"
	}
	if strings.HasPrefix(v, "0") {
		return "" // typed as text, with its zero: the country code is what is missing
	}
	return "has no +, as a spreadsheet keeps a phone number stored as a number"
}

// existing skips a row whose identifiers already sign in to an account
// (taken): an import never changes the people who exist. It reports
// whether it did.
func existing(f *file, x *row, taken map[string]bool) bool {
	if len(x.res.Problems) > 0 {
		return false // refused already: the file must change anyway
	}
	for k, key := range loginKeys {
		if v := x.ids[k]; v != "" && taken[v] {
			f.problem(x, columnFor(key), "%s already signs in to an account of this tenant; an import does not change existing people", v)
			x.res.Result = ResultSkipped
		}
	}
	return x.res.Result == ResultSkipped
}

// taken looks up which identifiers of rows already sign in to an account
// of the tenant, a few hundred in one query.
func (im *Importer) taken(ctx context.Context, t usher.Tenant, rows []*row) (map[string]bool, error) {
	var vals []string
	for _, r := range rows {
		if len(r.res.Problems) > 0 {
			continue
		}
		for _, v := range r.ids {
			if v != "" {
				vals = append(vals, v)
			}
		}
	}
	out := map[string]bool{}
	for len(vals) > 0 {
		n := min(takenPerQuery, len(vals))
		got, err := im.st.Read().TakenLogins(ctx, t.ID, vals[:n])
		if err != nil {
			return nil, err
		}
		maps.Copy(out, got)
		vals = vals[n:]
	}
	return out, nil
}

// takenPerQuery is how many identifiers one lookup of taken asks for.
const takenPerQuery = 500

// validate skips the rows of people who exist and runs provision's checks
// on every other row, a few rows at once; each row reports all its
// problems. Each row is one worker's alone.
//
// Without rules (an import's batch, whose rows provision.CreateAccounts
// checks as it creates them) only the identifiers are looked up: the
// rules' refusals come back from the creation, on the same columns.
func (im *Importer) validate(ctx context.Context, actor usher.Actor, t usher.Tenant, f *file, rules bool) error {
	taken := f.taken
	if taken == nil {
		var err error
		if taken, err = im.taken(ctx, t, f.rows); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	var failed error
	fail := func(err error) {
		mu.Lock()
		failed = cmp.Or(failed, err)
		mu.Unlock()
	}
	next := make(chan *row)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				if existing(f, r, taken) || !rules {
					continue
				}
				if err := im.svc.CheckAccount(ctx, actor, t, r.in); err != nil {
					if err := f.explain(r, err); err != nil {
						fail(err)
					}
				}
			}
		}()
	}
	for _, r := range f.rows {
		next <- r
	}
	close(next)
	wg.Wait()
	for _, r := range f.rows {
		if r.res.Result == "" {
			r.res.Result = ResultCreate
			if len(r.res.Problems) > 0 {
				r.res.Result = ResultRefused
			}
		}
	}
	return failed
}

// seats compares the seats that the rows to create need on each plan
// (by id, in plans' order) with the plan's free seats.
func (im *Importer) seats(ctx context.Context, t usher.Tenant, need map[string]int, plans []string) ([]PlanSeats, error) {
	out := []PlanSeats{}
	for _, id := range plans {
		p, err := im.st.Read().Plan(ctx, t.ID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, PlanSeats{PlanID: p.ID, Plan: p.Name, Needed: need[id], Free: max(0, p.Seats-p.SeatsUsed)})
	}
	return out, nil
}
