package imports

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports/spreadsheet"
)

// Sheet names of the template.
const (
	peopleSheet       = "People"
	instructionsSheet = "Instructions"
	listsSheet        = "Lists"
)

// templateRows is how far down the drop-downs and text formats reach.
const templateRows = 100_000

// required reports whether the tenant requires column c.
func required(t usher.Tenant, c *column) bool {
	if c.key == "plan" {
		return t.Settings.DefaultPlanID == ""
	}
	return c.required != "" && slices.Contains(t.Settings.RequiredFields, c.required)
}

// headerText is c's header in lang, marked when required.
func headerText(t usher.Tenant, c *column, lang string) string {
	if required(t, c) {
		return c.label(lang) + requiredMark
	}
	return c.label(lang)
}

// example is c's value in the example row.
func example(t usher.Tenant, cat *catalogues, c *column) string {
	switch {
	case c.key == "language":
		return t.Settings.DefaultLanguage
	case c.list != "" && c.list != listOrganizations && !c.several && len(cat.lists[c.list]) > 0:
		return cat.lists[c.list][0].name
	}
	return c.example
}

// TemplateXLSX is the tenant's import template as an Excel workbook, its
// headers in lang: the People sheet with one example row and drop-down
// lists from the tenant's catalogues, the Instructions sheet, and the
// hidden Lists sheet the drop-downs read.
func (im *Importer) TemplateXLSX(ctx context.Context, t usher.Tenant, lang string) ([]byte, error) {
	cat, err := loadCatalogues(ctx, im.st, t)
	if err != nil {
		return nil, err
	}
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", peopleSheet); err != nil {
		return nil, err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, err
	}
	// Text, so that a phone keeps its + and leading zeros.
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49})
	if err != nil {
		return nil, err
	}
	if _, err := f.NewSheet(instructionsSheet); err != nil {
		return nil, err
	}
	if _, err := f.NewSheet(listsSheet); err != nil {
		return nil, err
	}
	listCol := 0
	for i := range columns {
		c := &columns[i]
		col := spreadsheet.ColumnName(i)
		if err := f.SetCellStr(peopleSheet, col+"1", headerText(t, c, lang)); err != nil {
			return nil, err
		}
		if err := f.SetCellStr(peopleSheet, col+"2", example(t, cat, c)); err != nil {
			return nil, err
		}
		if err := f.SetColWidth(peopleSheet, col, col, 20); err != nil {
			return nil, err
		}
		if c.key == "phone" || c.key == "one_time_password" || c.key == "external_id" || c.key == "username" {
			if err := f.SetColStyle(peopleSheet, col, text); err != nil {
				return nil, err
			}
		}
		names := cat.names(c.list)
		if len(names) == 0 {
			continue
		}
		lc := spreadsheet.ColumnName(listCol)
		listCol++
		if err := f.SetCellStr(listsSheet, lc+"1", c.label(lang)); err != nil {
			return nil, err
		}
		for j, n := range names {
			if err := f.SetCellStr(listsSheet, fmt.Sprintf("%s%d", lc, j+2), n); err != nil {
				return nil, err
			}
		}
		dv := excelize.NewDataValidation(true)
		dv.SetSqref(fmt.Sprintf("%s2:%s%d", col, col, templateRows+1))
		dv.SetSqrefDropList(fmt.Sprintf("%s!$%s$2:$%s$%d", listsSheet, lc, lc, len(names)+1))
		if c.several {
			// Excel's list takes one value; "Information" lets the
			// cell hold several, separated by ;, which the import checks.
			dv.SetError(excelize.DataValidationErrorStyleInformation, c.label(lang), say(lang, "choose.several"))
		} else {
			dv.SetError(excelize.DataValidationErrorStyleStop, c.label(lang), say(lang, "choose"))
		}
		if err := f.AddDataValidation(peopleSheet, dv); err != nil {
			return nil, err
		}
	}
	if err := f.SetRowStyle(peopleSheet, 1, 1, bold); err != nil {
		return nil, err
	}
	if err := f.SetPanes(peopleSheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	if err := instructions(f, t, lang, bold); err != nil {
		return nil, err
	}
	if err := f.SetSheetVisible(listsSheet, false); err != nil {
		return nil, err
	}
	f.SetActiveSheet(0)
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func instructions(f *excelize.File, t usher.Tenant, lang string, bold int) error {
	lines := [][]string{
		{fmt.Sprintf(say(lang, "title"), t.Name)},
		{say(lang, "fill")},
		{say(lang, "check")},
		{say(lang, "login")},
		{},
		{say(lang, "column"), say(lang, "required"), say(lang, "what")},
	}
	for i := range columns {
		c := &columns[i]
		req := ""
		if required(t, c) {
			req = say(lang, "yes")
		}
		lines = append(lines, []string{c.label(lang), req, say(lang, "help."+c.key)})
	}
	for i, l := range lines {
		for j, v := range l {
			if err := f.SetCellStr(instructionsSheet, fmt.Sprintf("%s%d", spreadsheet.ColumnName(j), i+1), v); err != nil {
				return err
			}
		}
	}
	if err := f.SetColWidth(instructionsSheet, "A", "A", 24); err != nil {
		return err
	}
	if err := f.SetColWidth(instructionsSheet, "C", "C", 100); err != nil {
		return err
	}
	if err := f.SetRowStyle(instructionsSheet, 1, 1, bold); err != nil {
		return err
	}
	return f.SetRowStyle(instructionsSheet, 6, 6, bold)
}

// TemplateCSV is the template as CSV in UTF-8 with a byte order mark, so
// that Excel opens it with its accents: the header and the example row.
func (im *Importer) TemplateCSV(ctx context.Context, t usher.Tenant, lang string) ([]byte, error) {
	cat, err := loadCatalogues(ctx, im.st, t)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("\uFEFF")
	w := csv.NewWriter(&b)
	head := make([]string, len(columns))
	ex := make([]string, len(columns))
	for i := range columns {
		head[i] = headerText(t, &columns[i], lang)
		ex[i] = example(t, cat, &columns[i])
	}
	w.Write(head)
	w.Write(ex)
	w.Flush()
	return b.Bytes(), w.Error()
}
