package imports

// words are the template's instructions in the built-in languages, in the
// order of Languages; the column help is keyed by the column's key.
var words = map[string][6]string{
	"title": {"Importing people into %s", "Personen importeren in %s", "Personen in %s importieren", "Importer des personnes dans %s", "Importera personer till %s", "Importere personer til %s"},
	"fill": {
		"Fill in one row per person on the People sheet, under the headers, and replace the example row. Columns marked * are required in this tenant.",
		"Vul op het blad People één rij per persoon in, onder de kopjes, en vervang de voorbeeldrij. Kolommen met * zijn verplicht in deze omgeving.",
		"Füllen Sie im Blatt People eine Zeile pro Person unter den Überschriften aus und ersetzen Sie die Beispielzeile. Mit * markierte Spalten sind hier Pflicht.",
		"Remplissez une ligne par personne dans la feuille People, sous les en-têtes, et remplacez la ligne d'exemple. Les colonnes marquées * sont obligatoires ici.",
		"Fyll i en rad per person på bladet People, under rubrikerna, och ersätt exempelraden. Kolumner markerade med * är obligatoriska här.",
		"Fyll inn én rad per person på arket People, under overskriftene, og erstatt eksempelraden. Kolonner merket med * er obligatoriske her.",
	},
	"check": {
		"Nothing is created before you have checked the file: the check reports every problem by row and column. Existing people are never changed: a row whose email, username or phone already signs in to an account is skipped.",
		"Er wordt niets aangemaakt voordat u het bestand hebt gecontroleerd: de controle meldt elk probleem per rij en kolom. Bestaande personen worden nooit gewijzigd: een rij waarvan het e-mailadres, de gebruikersnaam of het telefoonnummer al bij een account hoort, wordt overgeslagen.",
		"Nichts wird angelegt, bevor Sie die Datei geprüft haben: Die Prüfung meldet jedes Problem mit Zeile und Spalte. Bestehende Personen werden nie geändert: Eine Zeile, deren E-Mail, Benutzername oder Telefonnummer schon zu einem Konto gehört, wird übersprungen.",
		"Rien n'est créé avant que vous ayez vérifié le fichier : la vérification signale chaque problème par ligne et par colonne. Les personnes existantes ne sont jamais modifiées : une ligne dont le courriel, le nom d'utilisateur ou le téléphone appartient déjà à un compte est ignorée.",
		"Inget skapas innan du har kontrollerat filen: kontrollen rapporterar varje problem med rad och kolumn. Befintliga personer ändras aldrig: en rad vars e-post, användarnamn eller telefonnummer redan hör till ett konto hoppas över.",
		"Ingenting opprettes før du har kontrollert filen: kontrollen melder hvert problem med rad og kolonne. Eksisterende personer endres aldri: en rad der e-post, brukernavn eller telefonnummer allerede hører til en konto, hoppes over.",
	},
	"login": {
		"Every account needs an email, or a username and a phone number, to sign in with.",
		"Elk account heeft een e-mailadres nodig, of een gebruikersnaam en een telefoonnummer, om mee in te loggen.",
		"Jedes Konto braucht zur Anmeldung eine E-Mail-Adresse oder einen Benutzernamen und eine Telefonnummer.",
		"Chaque compte a besoin d'un courriel, ou d'un nom d'utilisateur et d'un téléphone, pour se connecter.",
		"Varje konto behöver en e-postadress, eller ett användarnamn och ett telefonnummer, att logga in med.",
		"Hver konto trenger en e-postadresse, eller et brukernavn og et telefonnummer, å logge inn med.",
	},
	"column":   {"Column", "Kolom", "Spalte", "Colonne", "Kolumn", "Kolonne"},
	"required": {"Required", "Verplicht", "Pflicht", "Obligatoire", "Obligatorisk", "Obligatorisk"},
	"what":     {"What to write", "Wat u invult", "Was einzutragen ist", "Quoi écrire", "Vad du skriver", "Hva du skriver"},
	"yes":      {"yes", "ja", "ja", "oui", "ja", "ja"},
	"choose":   {"Choose a value from the list.", "Kies een waarde uit de lijst.", "Wählen Sie einen Wert aus der Liste.", "Choisissez une valeur dans la liste.", "Välj ett värde i listan.", "Velg en verdi fra listen."},
	"choose.several": {
		"Choose from the list, or type several of its names separated by ;.",
		"Kies uit de lijst, of typ meerdere namen eruit, gescheiden door ;.",
		"Wählen Sie aus der Liste, oder geben Sie mehrere ihrer Namen ein, getrennt durch ;.",
		"Choisissez dans la liste, ou tapez plusieurs de ses noms séparés par ;.",
		"Välj i listan, eller skriv flera av dess namn åtskilda med ;.",
		"Velg fra listen, eller skriv flere av navnene adskilt med ;.",
	},

	"help.first_name": {"The person's first name.", "De voornaam.", "Der Vorname.", "Le prénom.", "Förnamnet.", "Fornavnet."},
	"help.last_name":  {"The person's last name.", "De achternaam.", "Der Nachname.", "Le nom de famille.", "Efternamnet.", "Etternavnet."},
	"help.email": {
		"Signs in with it and receives the invitation. A person without email needs a username and a phone number.",
		"Om mee in te loggen en de uitnodiging te ontvangen. Wie geen e-mail heeft, heeft een gebruikersnaam en een telefoonnummer nodig.",
		"Zum Anmelden und für die Einladung. Wer keine E-Mail hat, braucht einen Benutzernamen und eine Telefonnummer.",
		"Pour se connecter et recevoir l'invitation. Sans courriel, il faut un nom d'utilisateur et un téléphone.",
		"För inloggning och inbjudan. Den som saknar e-post behöver ett användarnamn och ett telefonnummer.",
		"For innlogging og invitasjon. Den som ikke har e-post, trenger et brukernavn og et telefonnummer.",
	},
	"help.phone": {
		"In international form with + and the country code, typed as text so that the + stays: +31 6 1234 5678.",
		"Internationaal, met + en landcode, als tekst getypt zodat de + blijft staan: +31 6 1234 5678.",
		"International mit + und Ländervorwahl, als Text eingegeben, damit das + bleibt: +49 170 1234567.",
		"Au format international avec + et l'indicatif du pays, saisi comme texte pour garder le + : +33 6 12 34 56 78.",
		"I internationell form med + och landsnummer, skrivet som text så att + står kvar: +46 70 123 45 67.",
		"I internasjonal form med + og landskode, skrevet som tekst slik at + blir stående: +47 912 34 567.",
	},
	"help.username": {"Another name to sign in with, unique in the tenant.", "Een andere naam om mee in te loggen, uniek in deze omgeving.", "Ein weiterer Anmeldename, hier eindeutig.", "Un autre nom pour se connecter, unique ici.", "Ett annat namn att logga in med, unikt här.", "Et annet navn å logge inn med, unikt her."},
	"help.organization": {
		"Empty for the tenant's own organization; otherwise an external organization from the list.",
		"Leeg voor de eigen organisatie; anders een externe organisatie uit de lijst.",
		"Leer für die eigene Organisation, sonst eine externe Organisation aus der Liste.",
		"Vide pour l'organisation elle-même, sinon une organisation externe de la liste.",
		"Tomt för den egna organisationen, annars en extern organisation ur listan.",
		"Tomt for egen organisasjon, ellers en ekstern organisasjon fra listen.",
	},
	"help.department":    {"One of the tenant's departments; empty takes the default.", "Een van de afdelingen; leeg neemt de standaard.", "Eine der Abteilungen; leer nimmt die Voreinstellung.", "Un des départements ; vide prend celui par défaut.", "En av avdelningarna; tomt ger standardvärdet.", "En av avdelingene; tomt gir standardverdien."},
	"help.job_profile":   {"One of the tenant's job profiles; empty takes the default.", "Een van de functieprofielen; leeg neemt de standaard.", "Eines der Stellenprofile; leer nimmt die Voreinstellung.", "Un des profils de poste ; vide prend celui par défaut.", "En av befattningsprofilerna; tomt ger standardvärdet.", "En av stillingsprofilene; tomt gir standardverdien."},
	"help.role":          {"One of the tenant's roles; empty takes the default.", "Een van de rollen; leeg neemt de standaard.", "Eine der Rollen; leer nimmt die Voreinstellung.", "Un des rôles ; vide prend celui par défaut.", "En av rollerna; tomt ger standardvärdet.", "En av rollene; tomt gir standardverdien."},
	"help.plan":          {"The plan whose seat the account takes; empty takes the default.", "Het abonnement waarvan het account een plaats inneemt; leeg neemt de standaard.", "Der Tarif, dessen Platz das Konto belegt; leer nimmt die Voreinstellung.", "Le forfait dont le compte prend une place ; vide prend celui par défaut.", "Abonnemanget vars plats kontot tar; tomt ger standardvärdet.", "Abonnementet som kontoen tar en plass i; tomt gir standardverdien."},
	"help.primary_group": {"One of the tenant's groups.", "Een van de groepen.", "Eine der Gruppen.", "Un des groupes.", "En av grupperna.", "En av gruppene."},
	"help.groups": {
		"More of the tenant's groups, separated by ; (their names are those of Primary group).",
		"Meer groepen, gescheiden door ; (dezelfde namen als bij Primaire groep).",
		"Weitere Gruppen, getrennt durch ; (dieselben Namen wie bei Primäre Gruppe).",
		"D'autres groupes, séparés par ; (les mêmes noms que pour Groupe principal).",
		"Fler grupper, åtskilda med ; (samma namn som för Primär grupp).",
		"Flere grupper, adskilt med ; (samme navn som for Primærgruppe).",
	},
	"help.language":    {"A language code of the tenant; empty takes the default.", "Een taalcode van deze omgeving; leeg neemt de standaard.", "Ein Sprachcode dieser Umgebung; leer nimmt die Voreinstellung.", "Un code de langue proposé ici ; vide prend celui par défaut.", "En språkkod som används här; tomt ger standardvärdet.", "En språkkode som brukes her; tomt gir standardverdien."},
	"help.external_id": {"The person's number in another system, such as HR.", "Het nummer van de persoon in een ander systeem, zoals HR.", "Die Nummer der Person in einem anderen System, etwa der Personalabteilung.", "Le numéro de la personne dans un autre système, comme les RH.", "Personens nummer i ett annat system, till exempel HR.", "Personens nummer i et annet system, for eksempel HR."},
	"help.one_time_password": {
		"Optional, for people without email: they sign in with it once and choose their own password. It is stored hashed, never shown or sent.",
		"Optioneel, voor wie geen e-mail heeft: eenmaal inloggen en dan een eigen wachtwoord kiezen. Het wordt versleuteld bewaard, nooit getoond of verstuurd.",
		"Optional, für Personen ohne E-Mail: einmal damit anmelden und dann ein eigenes Passwort wählen. Es wird nur als Hash gespeichert, nie angezeigt oder versendet.",
		"Facultatif, pour les personnes sans courriel : elles se connectent une fois avec et choisissent leur propre mot de passe. Il est conservé haché, jamais affiché ni envoyé.",
		"Valfritt, för personer utan e-post: de loggar in en gång med det och väljer sedan ett eget lösenord. Det sparas hashat, visas eller skickas aldrig.",
		"Valgfritt, for personer uten e-post: de logger inn én gang med det og velger så sitt eget passord. Det lagres hashet, vises eller sendes aldri.",
	},
}

// say is the word for key in lang, English when lang is not built in.
func say(lang, key string) string {
	w := words[key]
	for i, l := range Languages {
		if l == lang && w[i] != "" {
			return w[i]
		}
	}
	return w[0]
}
