// Package imports brings people into a tenant from the spreadsheets
// administrators keep: a template made from the tenant, readers for XLSX
// and CSV as people save them, a dry run that reports every row, and the
// import, which creates each row through provision and never overwrites
// what exists.
package imports

import (
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/usherhq/usher"
)

// Languages are the built-in languages, in the order of a column's labels.
var Languages = []string{"en", "nl", "de", "fr", "sv", "nb"}

// column is one field a person can have, as a spreadsheet column.
type column struct {
	key    string
	labels [6]string // in the order of Languages
	// fields are the names provision's errors give this column's value.
	fields []string
	// list is the catalogue its drop-down list comes from, "" for none.
	list string
	// several: the cell may name more than one of list's entries, so its
	// drop-down offers them without refusing what it does not hold.
	several bool
	// required is the tenant setting (usher.Field…) that makes it required.
	required string
	example  string
	bit      uint32 // the column's flag in a row's set of columns
}

// Lists a column's drop-down can come from, besides usher's attribute kinds.
const (
	listPlans         = "plans"
	listOrganizations = "organizations"
	listLanguages     = "languages"
)

var columns = []column{
	{key: "first_name", labels: [6]string{"First name", "Voornaam", "Vorname", "Prénom", "Förnamn", "Fornavn"},
		fields: []string{"first_name"}, required: usher.FieldFirstName, example: "Anna"},
	{key: "last_name", labels: [6]string{"Last name", "Achternaam", "Nachname", "Nom", "Efternamn", "Etternavn"},
		fields: []string{"last_name"}, required: usher.FieldLastName, example: "Jansen"},
	{key: "email", labels: [6]string{"Email", "E-mail", "E-Mail", "Courriel", "E-post", "E-postadresse"},
		fields: []string{"email"}, required: usher.FieldEmail, example: "anna.jansen@example.com"},
	{key: "phone", labels: [6]string{"Phone", "Telefoon", "Telefon", "Téléphone", "Telefonnummer", "Telefonnummer"},
		fields: []string{"phone"}, required: usher.FieldPhone, example: "+31 6 1234 5678"},
	{key: "username", labels: [6]string{"Username", "Gebruikersnaam", "Benutzername", "Nom d'utilisateur", "Användarnamn", "Brukernavn"},
		fields: []string{"username"}, required: usher.FieldUsername},
	{key: "organization", labels: [6]string{"Organization", "Organisatie", "Organisation", "Organisation", "Organisation", "Organisasjon"},
		fields: []string{"organization_id"}, list: listOrganizations},
	{key: "department", labels: [6]string{"Department", "Afdeling", "Abteilung", "Département", "Avdelning", "Avdeling"},
		fields: []string{"department_id"}, list: usher.KindDepartment, required: usher.FieldDepartment},
	{key: "job_profile", labels: [6]string{"Job profile", "Functieprofiel", "Stellenprofil", "Profil de poste", "Befattningsprofil", "Stillingsprofil"},
		fields: []string{"job_profile_id"}, list: usher.KindJobProfile, required: usher.FieldJobProfile},
	{key: "role", labels: [6]string{"Role", "Rol", "Rolle", "Rôle", "Roll", "Rolle"},
		fields: []string{"role_id"}, list: usher.KindRole, required: usher.FieldRole},
	{key: "plan", labels: [6]string{"Plan", "Abonnement", "Tarif", "Forfait", "Abonnemang", "Abonnement"},
		fields: []string{"plan_id"}, list: listPlans},
	{key: "primary_group", labels: [6]string{"Primary group", "Primaire groep", "Primäre Gruppe", "Groupe principal", "Primär grupp", "Primærgruppe"},
		fields: []string{"primary_group_id"}, list: usher.KindGroup},
	{key: "groups", labels: [6]string{"Other groups", "Andere groepen", "Weitere Gruppen", "Autres groupes", "Övriga grupper", "Andre grupper"},
		fields: []string{"group_ids"}, list: usher.KindGroup, several: true},
	{key: "language", labels: [6]string{"Language", "Taal", "Sprache", "Langue", "Språk", "Språk"},
		fields: []string{"language"}, list: listLanguages, required: usher.FieldLanguage, example: "en"},
	{key: "external_id", labels: [6]string{"External ID", "Externe ID", "Externe ID", "Identifiant externe", "Externt ID", "Ekstern ID"},
		fields: []string{"external_id"}},
	{key: "one_time_password", labels: [6]string{"One-time password", "Eenmalig wachtwoord", "Einmalpasswort", "Mot de passe à usage unique", "Engångslösenord", "Engangspassord"},
		fields: []string{"one_time_password"}},
}

// requiredMark follows the header of a column the tenant requires.
const requiredMark = " *"

// foldHeader makes headers comparable: any case, width or spacing, with
// the required mark and surrounding spaces dropped.
func foldHeader(s string) string {
	s = norm.NFKC.String(s)
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "*"))
	s = strings.Join(strings.Fields(s), " ")
	return cases.Fold().String(s)
}

// headers maps every accepted header, folded, to its column: the key and
// the label in each built-in language.
var headers = func() map[string]*column {
	m := map[string]*column{}
	for i := range columns {
		c := &columns[i]
		c.bit = 1 << i
		m[foldHeader(c.key)] = c
		for _, l := range c.labels {
			m[foldHeader(l)] = c
		}
	}
	return m
}()

// label is a column's header in lang, English when lang is not built in.
func (c *column) label(lang string) string {
	for i, l := range Languages {
		if l == lang {
			return c.labels[i]
		}
	}
	return c.labels[0]
}

// columnFor returns the column a provision error's field belongs to, or
// nil for a problem of the whole row.
func columnFor(field string) *column {
	field, _, _ = strings.Cut(field, "[")
	for i := range columns {
		for _, f := range columns[i].fields {
			if f == field {
				return &columns[i]
			}
		}
	}
	return nil
}
