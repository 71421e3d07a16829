package azureblob

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore/objectstoretest"
)

// The Azurite development account's well-known key (not a secret).
const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func TestParseSettings(t *testing.T) {
	const cs = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + devKey + ";EndpointSuffix=core.windows.net"
	tests := []struct {
		name, in string
		want     string // "" for valid, else a substring of the error
		endpoint string // the endpoint errors name
		account  string
	}{
		{"connection string", `{"connection_string":"` + cs + `","container":"data"}`, "", "https://acct.blob.core.windows.net", ""},
		{"connection string with endpoint", `{"connection_string":"AccountName=a;AccountKey=` + devKey + `;BlobEndpoint=http://127.0.0.1:10000/a/","container":"data"}`, "", "http://127.0.0.1:10000/a", ""},
		{"account key", `{"account_url":"https://acct.blob.core.windows.net/","account_key":"` + devKey + `","container":"data","prefix":"x"}`, "", "https://acct.blob.core.windows.net", "acct"},
		{"emulator url", `{"account_url":"http://127.0.0.1:10000/devstoreaccount1","account_key":"` + devKey + `","container":"data"}`, "", "http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1"},
		{"account name set", `{"account_url":"https://blobs.example.com","account_name":"other","account_key":"` + devKey + `","container":"data"}`, "", "https://blobs.example.com", "other"},
		{"sas", `{"account_url":"https://acct.blob.core.windows.net","sas":"?sv=2022-11-02&sp=rwdl&sig=abc%3D","container":"data"}`, "", "https://acct.blob.core.windows.net", ""},
		{"no container", `{"connection_string":"` + cs + `"}`, "container: is required", "", ""},
		{"bad container", `{"connection_string":"` + cs + `","container":"Data--x"}`, "container", "", ""},
		{"no credentials", `{"container":"data"}`, "connection_string or account_url is required", "", ""},
		{"both", `{"connection_string":"` + cs + `","account_url":"https://a.blob.core.windows.net","container":"data"}`, "not both", "", ""},
		{"url without key", `{"account_url":"https://a.blob.core.windows.net","container":"data"}`, "account_key or sas", "", ""},
		{"key and sas", `{"account_url":"https://a.blob.core.windows.net","account_key":"` + devKey + `","sas":"sig=x","container":"data"}`, "not both", "", ""},
		{"key not base64", `{"account_url":"https://a.blob.core.windows.net","account_key":"not base64!","container":"data"}`, "not base64", "", ""},
		{"sas without sig", `{"account_url":"https://a.blob.core.windows.net","sas":"sv=1","container":"data"}`, "no sig=", "", ""},
		{"no account name", `{"account_url":"http://127.0.0.1:10000","account_key":"` + devKey + `","container":"data"}`, "account_name is required", "", ""},
		{"connection string without key", `{"connection_string":"AccountName=a","container":"data"}`, "neither AccountKey", "", ""},
		{"unknown field", `{"connection_string":"` + cs + `","container":"data","tier":"Cool"}`, "unknown field", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSettings(json.RawMessage(tc.in))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			case err != nil:
				if strings.Contains(err.Error(), devKey) {
					t.Errorf("error shows the key: %v", err)
				}
				return
			}
			if s.endpoint != tc.endpoint || s.accountName != tc.account {
				t.Errorf("endpoint %q, account %q; want %q, %q", s.endpoint, s.accountName, tc.endpoint, tc.account)
			}
			if len(s.secrets) == 0 {
				t.Error("no secrets to scrub")
			}
		})
	}
}

// ---------------------------------------------------------------- server tests

// account is the Azurite account from TEST_AZURE_CONNECTION_STRING.
type account struct {
	connString string
	name, key  string
	addr       string // host:port of the blob endpoint
}

func serverAccount(t *testing.T) account {
	t.Helper()
	cs := objectstoretest.Require(t, "TEST_AZURE_CONNECTION_STRING")
	a := account{connString: cs}
	for part := range strings.SplitSeq(cs, ";") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "AccountName":
			a.name = v
		case "AccountKey":
			a.key = v
		case "BlobEndpoint":
			u, err := url.Parse(v)
			if err != nil {
				t.Fatal(err)
			}
			a.addr = u.Host
		}
	}
	if a.name == "" || a.key == "" || a.addr == "" {
		t.Fatalf("TEST_AZURE_CONNECTION_STRING lacks AccountName, AccountKey or BlobEndpoint")
	}
	return a
}

// accountURL is the blob service URL at addr.
func (a account) accountURL(addr string) string { return "http://" + addr + "/" + a.name }

// settings uses a connection string whose BlobEndpoint is at addr.
func (a account) settings(addr, bucket, prefix string) json.RawMessage {
	cs := "DefaultEndpointsProtocol=http;AccountName=" + a.name + ";AccountKey=" + a.key + ";BlobEndpoint=" + a.accountURL(addr) + ";"
	b, _ := json.Marshal(Settings{ConnectionString: cs, Container: bucket, Prefix: prefix})
	return b
}

// newContainer creates a container with a unique name.
func (a account) newContainer(t *testing.T) string {
	t.Helper()
	name := objectstoretest.UniqueName("wbt")
	c, err := container.NewClientFromConnectionString(a.connString, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(t.Context(), nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	return name
}

func TestConformance(t *testing.T) {
	a := serverAccount(t)
	objectstoretest.Run(t, objectstoretest.Server{
		Kind:      NewKind(Options{Logger: objectstoretest.Logger(t)}),
		Addr:      a.addr,
		MetaSep:   "_",
		NewBucket: a.newContainer,
		Settings:  a.settings,
	})
}

// TestAccountKeyAndSAS opens destinations with account_url and a key or a
// SAS token and delivers through them.
func TestAccountKeyAndSAS(t *testing.T) {
	t.Parallel()
	a := serverAccount(t)
	name := a.newContainer(t)
	cred, err := container.NewSharedKeyCredential(a.name, a.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClientWithSharedKeyCredential(a.accountURL(a.addr)+"/"+name, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	sasURL, err := c.GetSASURL(sas.ContainerPermissions{Read: true, Write: true, Delete: true, List: true, Create: true}, time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(sasURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Settings{
		{AccountURL: a.accountURL(a.addr), AccountKey: a.key, Container: name, Prefix: "key"},
		{AccountURL: a.accountURL(a.addr), SAS: u.RawQuery, Container: name, Prefix: "sas"},
	} {
		raw, _ := json.Marshal(s)
		d, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_" + s.Prefix, Settings: raw})
		if err != nil {
			t.Fatalf("%s: Open: %v", s.Prefix, err)
		}
		ev := destination.Event{DeliveryID: "dlv_1", Type: "auth", UserID: "u1", Body: json.RawMessage(`{"type":"auth"}`)}
		if r := d.Deliver(t.Context(), []destination.Event{ev}); r[0].Err != nil {
			t.Fatalf("%s: Deliver: %v", s.Prefix, r[0].Err)
		}
		got, err := d.(*objectstore.Dest).ReadBack(t.Context(), ev)
		if err != nil || string(got) != `{"type":"auth"}` {
			t.Errorf("%s: ReadBack = %s, %v", s.Prefix, got, err)
		}
		_ = d.Close()
	}
}

// TestBadCredentials: a wrong account key, and a SAS token signed with
// one, are refused at Open with a clear error that shows neither.
func TestBadCredentials(t *testing.T) {
	t.Parallel()
	a := serverAccount(t)
	name := a.newContainer(t)
	// A well-formed key that is not the account's: devKey with its first
	// bytes changed.
	wrongKey := "AAAA" + a.key[4:]
	wrongSig := "sv=2021-12-02&ss=b&srt=co&sp=rwdl&se=2099-01-01T00%3A00%3A00Z&sig=d3Jvbmctc2lnbmF0dXJlLXZhbHVl"
	for _, tc := range []struct {
		name   string
		s      Settings
		secret string
	}{
		{"wrong key", Settings{AccountURL: a.accountURL(a.addr), AccountKey: wrongKey, Container: name}, wrongKey},
		{"wrong key in connection string", Settings{Container: name,
			ConnectionString: "DefaultEndpointsProtocol=http;AccountName=" + a.name + ";AccountKey=" + wrongKey + ";BlobEndpoint=" + a.accountURL(a.addr) + ";"}, wrongKey},
		{"forged sas", Settings{AccountURL: a.accountURL(a.addr), SAS: wrongSig, Container: name}, "d3Jvbmctc2lnbmF0dXJlLXZhbHVl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(tc.s)
			_, err := NewKind(Options{}).Open(t.Context(), destination.Config{ID: "dst_bad", Settings: raw})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), "denied") || !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not say that access to %s was denied", err, name)
			}
			if strings.Contains(err.Error(), tc.secret) || strings.Contains(err.Error(), a.key) {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}
