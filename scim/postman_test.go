package scim_test

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usherhq/usher"
)

func init() { cases["Postman"] = testPostman }

// testPostman runs Microsoft's SCIM Postman collection (testdata/README.md)
// with newman against the server, and fails on any failed request or
// assertion. The tenant is set up the way the collection's data needs:
// it sends the same addresses for different people and phone numbers
// without a country code (settings.scim.addresses "keep"), names
// departments and job titles no tenant has yet (unknown_names "create"),
// and creates users with a username and no email or phone (required
// fields: the names).
func testPostman(t *testing.T, e *env) {
	newman, err := exec.LookPath("newman")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("newman is not installed: CI must run Microsoft's SCIM collection (npm install -g newman@6.2.2)")
		}
		t.Skip("newman is not installed (npm install -g newman@6.2.2): Microsoft's SCIM collection did not run")
	}
	e.setSettings(func(s *usher.TenantSettings) {
		s.SCIM.Addresses, s.SCIM.UnknownNames = usher.SCIMKeep, usher.SCIMCreate
		s.RequiredFields = []string{usher.FieldFirstName, usher.FieldLastName}
	})
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	args := []string{"run", filepath.Join("testdata", "ms-PostmanCollection.json")}
	for _, f := range []string{"Endpoint tests", "User tests", "Group tests", "ComplexAttribute tests", "User tests with garbage",
		"Group tests with garbage", "Teardown garbage"} {
		args = append(args, "--folder", f)
	}
	args = append(args, "--env-var", "Protocol=http", "--env-var", "Server="+u.Hostname(), "--env-var", "Port=:"+u.Port(),
		"--env-var", "Api=t/"+e.tn.Slug+"/scim/v2", "--env-var", "token="+e.token,
		"--reporters", "json", "--reporter-json-export", report, "--disable-unicode", "--timeout-request", "20000")
	out, runErr := exec.Command(newman, args...).CombinedOutput()
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("newman wrote no report (%v):\n%s", runErr, out)
	}
	var rep struct {
		Run struct {
			Stats      map[string]struct{ Total, Failed int } `json:"stats"`
			Executions []struct {
				Item       struct{ Name string } `json:"item"`
				Response   struct{ Code int }    `json:"response"`
				Assertions []struct {
					Assertion string                    `json:"assertion"`
					Error     *struct{ Message string } `json:"error"`
				} `json:"assertions"`
			} `json:"executions"`
			Failures []struct {
				Error  struct{ Message string } `json:"error"`
				Source struct{ Name string }    `json:"source"`
			} `json:"failures"`
		} `json:"run"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("newman's report: %v", err)
	}
	var failed []string
	for _, x := range rep.Run.Executions {
		for _, a := range x.Assertions {
			if a.Error != nil {
				failed = append(failed, x.Item.Name+" ("+itoa(x.Response.Code)+"): "+a.Assertion+": "+a.Error.Message)
			}
		}
	}
	for _, f := range rep.Run.Failures {
		if !strings.Contains(strings.Join(failed, "\n"), f.Source.Name) {
			failed = append(failed, f.Source.Name+": "+f.Error.Message)
		}
	}
	requests, assertions := rep.Run.Stats["requests"], rep.Run.Stats["assertions"]
	t.Logf("Microsoft's SCIM collection: %d requests, %d assertions, %d failed", requests.Total, assertions.Total, assertions.Failed)
	if len(failed) > 0 || requests.Failed > 0 || assertions.Failed > 0 || runErr != nil {
		t.Fatalf("%d of %d assertions failed (newman: %v):\n%s", assertions.Failed, assertions.Total, runErr, strings.Join(failed, "\n"))
	}
	if requests.Total < 70 || assertions.Total < 90 {
		t.Fatalf("the collection ran only %d requests and %d assertions", requests.Total, assertions.Total)
	}
}
