package imports

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/text/cases"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// entry is a catalogue value a cell may name, by its name, key or id.
type entry struct{ id, name, key string }

// catalogues are the tenant's active lists that cells name: what the
// template's drop-downs offer and what a row's names resolve to.
type catalogues struct {
	lists map[string][]entry // by column list
	index map[string]map[string]string
}

func loadCatalogues(ctx context.Context, st *store.Store, tenant usher.Tenant) (*catalogues, error) {
	r := st.Read()
	c := &catalogues{lists: map[string][]entry{}, index: map[string]map[string]string{}}
	for _, kind := range []string{usher.KindDepartment, usher.KindJobProfile, usher.KindRole, usher.KindGroup} {
		err := all(func(o store.ListOptions) (string, error) {
			page, next, err := r.Attributes(ctx, tenant.ID, kind, true, o)
			for _, a := range page {
				c.lists[kind] = append(c.lists[kind], entry{a.ID, a.Name, a.Key})
			}
			return next, err
		})
		if err != nil {
			return nil, err
		}
	}
	err := all(func(o store.ListOptions) (string, error) {
		page, next, err := r.Plans(ctx, tenant.ID, true, o)
		for _, p := range page {
			c.lists[listPlans] = append(c.lists[listPlans], entry{p.ID, p.Name, p.Key})
		}
		return next, err
	})
	if err != nil {
		return nil, err
	}
	err = all(func(o store.ListOptions) (string, error) {
		page, next, err := r.Organizations(ctx, tenant.ID, store.OrganizationFilter{ParentID: "-", Active: true}, o)
		for _, g := range page {
			c.lists[listOrganizations] = append(c.lists[listOrganizations], entry{id: g.ID, name: g.Name})
		}
		return next, err
	})
	if err != nil {
		return nil, err
	}
	for _, l := range tenant.Settings.Languages {
		c.lists[listLanguages] = append(c.lists[listLanguages], entry{id: l, name: l})
	}
	for list, es := range c.lists {
		ix := map[string]string{}
		for _, e := range es {
			for _, k := range []string{e.id, e.key, e.name} {
				if k == "" {
					continue
				}
				k = fold(k)
				if _, taken := ix[k]; !taken {
					ix[k] = e.id
				}
			}
		}
		c.index[list] = ix
	}
	return c, nil
}

// all pages through a store list.
func all(page func(store.ListOptions) (string, error)) error {
	o := store.ListOptions{Limit: 500}
	for {
		next, err := page(o)
		if err != nil || next == "" {
			return err
		}
		o.After = next
	}
}

var folder = cases.Fold()

func fold(s string) string { return folder.String(strings.Join(strings.Fields(s), " ")) }

// resolve returns the id of what value names in list, or an error naming
// the value.
func (c *catalogues) resolve(list, value string) (string, error) {
	if id, ok := c.index[list][fold(value)]; ok {
		return id, nil
	}
	return "", fmt.Errorf("%q is not one of the tenant's %s; choose one from the drop-down list", value, listNoun(list))
}

func listNoun(list string) string {
	switch list {
	case listLanguages:
		return "languages"
	case usher.KindJobProfile:
		return "job profiles"
	}
	return list
}

// names are the names of a list, for drop-downs.
func (c *catalogues) names(list string) []string {
	out := make([]string, len(c.lists[list]))
	for i, e := range c.lists[list] {
		out[i] = e.name
	}
	return out
}
