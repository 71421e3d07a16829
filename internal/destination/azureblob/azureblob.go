// Package azureblob delivers events as JSON blobs to an Azure Blob Storage
// container, one blob per record, kept current by version-guarded writes
// with ETag conditions.
//
// # Settings
//
//	{"connection_string": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=...;EndpointSuffix=core.windows.net",
//	 "container": "health-data", "prefix": "wearbridge"}
//
// or
//
//	{"account_url": "https://acct.blob.core.windows.net", "account_key": "...", "container": "health-data"}
//	{"account_url": "https://acct.blob.core.windows.net", "sas": "sv=...&sig=...", "container": "health-data"}
//
// Fields:
//
//   - container (required): the container; it must exist.
//   - connection_string: a storage account connection string (with
//     AccountKey or SharedAccessSignature). Or else:
//   - account_url: the blob service URL, https://ACCOUNT.blob.core.windows.net
//     (or an emulator's http://127.0.0.1:10000/ACCOUNT), with either
//     account_key (the account's shared key; the account name is taken
//     from the URL unless account_name is set) or sas (a SAS token for the
//     account or the container, with the leading ? or not).
//   - prefix (optional): a folder for all blobs ("wearbridge/prod").
//
// Keys and SAS signatures never appear in logs or error messages. The
// credentials need read, write, delete and list permissions on the
// container (a SAS with sp=rwdl). Open writes and deletes the blob
// [prefix/].wearbridge-write-check to check that the container exists
// and takes writes.
//
// # Layout
//
// One block blob per record, holding the full event envelope:
//
//	[prefix/]2022-03-16/{type}/{user_id}-{start}-{record_key}.json      data events
//	[prefix/]2022-03-16/{type}/{user_id}-{created}-{delivery_id}.json   other events
//
// with {start} (or {created}) in UTC as 20241010T010159Z, and blob
// metadata wearbridge_version, wearbridge_delivery_id,
// wearbridge_record_key, wearbridge_user_id, wearbridge_provider and
// wearbridge_type (Azure metadata names must be C# identifiers, hence _).
// The objectstore package documents the layout in full.
//
// A data event overwrites the record's blob only if its version is at
// least the stored one: the write carries If-Match with the ETag read just
// before (If-None-Match: * for a new blob), and is repeated if another
// writer got in between.
package azureblob

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/wearbridge/wearbridge/internal/destination"
	"github.com/wearbridge/wearbridge/internal/destination/objectstore"
)

// KindName is the name Azure Blob destinations are registered under.
const KindName = "azure_blob"

// maxObject is the most Get reads of one blob.
const maxObject = 64 << 20

// Settings is an Azure Blob destination's JSON settings.
type Settings struct {
	// ConnectionString is a storage account connection string. Either it
	// or AccountURL is required.
	ConnectionString string `json:"connection_string,omitempty"`
	// AccountURL is the blob service URL.
	AccountURL string `json:"account_url,omitempty"`
	// AccountName overrides the account name taken from AccountURL.
	AccountName string `json:"account_name,omitempty"`
	// AccountKey is the account's shared key (base64); with AccountURL,
	// it or SAS is required.
	AccountKey string `json:"account_key,omitempty"`
	// SAS is a shared access signature token.
	SAS string `json:"sas,omitempty"`
	// Container is the container's name. Required.
	Container string `json:"container"`
	// Prefix is a folder for all blobs.
	Prefix string `json:"prefix,omitempty"`
}

// Options configures a Kind. The zero value is ready to use.
type Options struct {
	// Logger receives debug lines about deliveries; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Deliver, ReadBack and RemoveHealthcheck call;
	// zero means objectstore.DefaultTimeout.
	Timeout time.Duration
	// Concurrency is how many blobs one Deliver writes at once; zero
	// means objectstore.DefaultConcurrency.
	Concurrency int
}

// Kind builds Azure Blob destinations.
type Kind struct {
	opts Options
}

var (
	_ destination.Kind  = (*Kind)(nil)
	_ objectstore.Store = (*store)(nil)
)

// NewKind returns the Azure Blob kind configured by opts.
func NewKind(opts Options) *Kind {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Kind{opts: opts}
}

// Name returns "azure_blob".
func (k *Kind) Name() string { return KindName }

// Open validates cfg and checks that the container exists and takes
// writes. A missing container and refused credentials are errors; an
// unreachable endpoint is not: the destination is returned and its
// deliveries fail, retryably, until the endpoint answers.
func (k *Kind) Open(ctx context.Context, cfg destination.Config) (destination.Destination, error) {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("azure_blob destination %q: %w", cfg.ID, err)
	}
	st, err := newStore(s)
	if err != nil {
		return nil, fmt.Errorf("azure_blob destination %q: %w", cfg.ID, err)
	}
	d := objectstore.New(objectstore.Config{
		Kind: KindName, ID: cfg.ID, Store: st, Prefix: s.prefix, MetaSep: "_",
		Logger: k.opts.Logger, Timeout: k.opts.Timeout, Concurrency: k.opts.Concurrency,
	})
	if err := d.Check(ctx); err != nil {
		if objectstore.IsUnreachable(err) {
			k.opts.Logger.DebugContext(ctx, "azure_blob destination unreachable at open", "destination_id", cfg.ID, "error", err)
			return d, nil
		}
		_ = d.Close()
		return nil, fmt.Errorf("azure_blob destination %q: %w", cfg.ID, err)
	}
	return d, nil
}

// settings is Settings validated.
type settings struct {
	connString  string // or:
	accountURL  string // without a trailing slash
	accountName string
	accountKey  string
	sas         string // without the leading ?
	container   string
	prefix      string
	endpoint    string   // the blob service URL, for messages
	secrets     []string // to scrub from messages
}

// parseSettings decodes and validates raw.
func parseSettings(raw []byte) (settings, error) {
	var s Settings
	if err := objectstore.DecodeSettings(raw, &s); err != nil {
		return settings{}, err
	}
	if err := checkContainer(s.Container); err != nil {
		return settings{}, fmt.Errorf("settings: container: %w", err)
	}
	out := settings{container: s.Container}
	switch {
	case s.ConnectionString != "" && s.AccountURL != "":
		return settings{}, errors.New("settings: set connection_string or account_url, not both")
	case s.ConnectionString != "":
		if s.AccountKey != "" || s.SAS != "" || s.AccountName != "" {
			return settings{}, errors.New("settings: account_key, sas and account_name go with account_url, not connection_string")
		}
		cs, err := parseConnString(s.ConnectionString)
		if err != nil {
			return settings{}, fmt.Errorf("settings: connection_string: %w", err)
		}
		out.connString, out.endpoint = s.ConnectionString, cs.endpoint
		out.secrets = append(out.secrets, cs.secrets...)
	case s.AccountURL != "":
		u, err := objectstore.ParseEndpoint(s.AccountURL)
		if err != nil {
			return settings{}, fmt.Errorf("settings: account_url: %w", err)
		}
		out.accountURL, out.endpoint = u, u
		switch {
		case s.AccountKey != "" && s.SAS != "":
			return settings{}, errors.New("settings: set account_key or sas, not both")
		case s.AccountKey != "":
			if _, err := base64.StdEncoding.DecodeString(s.AccountKey); err != nil {
				return settings{}, errors.New("settings: account_key is not base64")
			}
			out.accountKey = s.AccountKey
			out.accountName = s.AccountName
			if out.accountName == "" {
				if out.accountName = accountFromURL(u); out.accountName == "" {
					return settings{}, errors.New("settings: account_name is required (it cannot be read from account_url)")
				}
			}
			out.secrets = append(out.secrets, s.AccountKey)
		case s.SAS != "":
			out.sas = strings.TrimPrefix(s.SAS, "?")
			q, err := url.ParseQuery(out.sas)
			if err != nil || q.Get("sig") == "" {
				return settings{}, errors.New("settings: sas is not a SAS token (no sig=)")
			}
			out.secrets = append(out.secrets, out.sas, q.Get("sig"), url.QueryEscape(q.Get("sig")))
		default:
			return settings{}, errors.New("settings: account_url needs account_key or sas")
		}
	default:
		return settings{}, errors.New("settings: connection_string or account_url is required")
	}
	p, err := objectstore.CleanPrefix(s.Prefix)
	if err != nil {
		return settings{}, fmt.Errorf("settings: prefix: %w", err)
	}
	out.prefix = p
	return out, nil
}

// connString is what parseConnString reads from a connection string.
type connString struct {
	endpoint string
	secrets  []string
}

// parseConnString reads the blob endpoint and the secrets of a connection
// string; the SDK parses it again to connect.
func parseConnString(cs string) (connString, error) {
	kv := map[string]string{}
	for part := range strings.SplitSeq(cs, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return connString{}, errors.New("not a connection string (want Key=Value;...)")
		}
		kv[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	var out connString
	if key := kv["accountkey"]; key != "" {
		out.secrets = append(out.secrets, key)
	}
	if sas := kv["sharedaccesssignature"]; sas != "" {
		out.secrets = append(out.secrets, sas)
		if q, err := url.ParseQuery(sas); err == nil && q.Get("sig") != "" {
			out.secrets = append(out.secrets, q.Get("sig"), url.QueryEscape(q.Get("sig")))
		}
	}
	if len(out.secrets) == 0 {
		return connString{}, errors.New("has neither AccountKey nor SharedAccessSignature")
	}
	switch {
	case kv["blobendpoint"] != "":
		out.endpoint = strings.TrimRight(kv["blobendpoint"], "/")
	case kv["accountname"] != "":
		proto, suffix := kv["defaultendpointsprotocol"], kv["endpointsuffix"]
		if proto == "" {
			proto = "https"
		}
		if suffix == "" {
			suffix = "core.windows.net"
		}
		out.endpoint = proto + "://" + kv["accountname"] + ".blob." + suffix
	default:
		return connString{}, errors.New("has neither AccountName nor BlobEndpoint")
	}
	return out, nil
}

// accountFromURL returns the account name in a blob service URL: the first
// label of ACCOUNT.blob.core.windows.net, or the first path segment of an
// emulator's http://127.0.0.1:10000/ACCOUNT.
func accountFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if path := strings.Trim(u.Path, "/"); path != "" && (net.ParseIP(host) != nil || host == "localhost") {
		first, _, _ := strings.Cut(path, "/")
		return first
	}
	if first, _, ok := strings.Cut(host, "."); ok && net.ParseIP(host) == nil {
		return first
	}
	return ""
}

// containerName is Azure's rule for container names.
var containerName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

// checkContainer accepts Azure container names: 3 to 63 lowercase
// letters, digits and single hyphens, starting and ending with a letter or
// digit.
func checkContainer(c string) error {
	if c == "" {
		return errors.New("is required")
	}
	if len(c) > 63 || !containerName.MatchString(c) {
		return fmt.Errorf("%q: must be 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit", c)
	}
	return nil
}

// store is a container as objectstore uses it.
type store struct {
	client   *container.Client
	name     string
	endpoint string
	secrets  []string
}

// newStore returns the store of validated settings.
func newStore(s settings) (*store, error) {
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second, TryTimeout: 30 * time.Second},
	}}
	var (
		c   *container.Client
		err error
	)
	switch {
	case s.connString != "":
		c, err = container.NewClientFromConnectionString(s.connString, s.container, opts)
	case s.accountKey != "":
		var cred *container.SharedKeyCredential
		if cred, err = container.NewSharedKeyCredential(s.accountName, s.accountKey); err == nil {
			c, err = container.NewClientWithSharedKeyCredential(s.accountURL+"/"+s.container, cred, opts)
		}
	default:
		c, err = container.NewClientWithNoCredential(s.accountURL+"/"+s.container+"?"+s.sas, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("client: %s", objectstore.Scrub(err.Error(), s.secrets...))
	}
	return &store{client: c, name: s.container, endpoint: s.endpoint, secrets: s.secrets}, nil
}

// Close does nothing: the SDK shares its connections.
func (s *store) Close() error { return nil }

// Head returns a blob's ETag and metadata.
func (s *store) Head(ctx context.Context, name string) (objectstore.Attrs, error) {
	p, err := s.client.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return objectstore.Attrs{}, s.fail("head "+name, err)
	}
	a := objectstore.Attrs{Meta: make(map[string]string, len(p.Metadata))}
	if p.ETag != nil {
		a.Token = string(*p.ETag)
	}
	if p.ContentType != nil {
		a.ContentType = *p.ContentType
	}
	for k, v := range p.Metadata {
		if v != nil {
			a.Meta[k] = *v
		}
	}
	return a, nil
}

// Get reads a blob.
func (s *store) Get(ctx context.Context, name string) ([]byte, error) {
	r, err := s.client.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, s.fail("get "+name, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, maxObject+1))
	if err != nil {
		return nil, s.fail("get "+name, err)
	}
	if len(b) > maxObject {
		return nil, fmt.Errorf("get %s: larger than %d bytes", name, maxObject)
	}
	return b, nil
}

// Put writes a block blob if cond holds.
func (s *store) Put(ctx context.Context, name string, body []byte, meta map[string]string, cond objectstore.Cond) error {
	o := &blockblob.UploadOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: new("application/json")},
		Metadata:    make(map[string]*string, len(meta)),
	}
	for k, v := range meta {
		o.Metadata[k] = new(v)
	}
	switch {
	case cond.IfAbsent:
		o.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: new(azcore.ETagAny)}}
	case cond.IfToken != "":
		o.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: new(azcore.ETag(cond.IfToken))}}
	}
	_, err := s.client.NewBlockBlobClient(name).Upload(ctx, streaming.NopCloser(bytes.NewReader(body)), o)
	if err != nil {
		return s.fail("put "+name, err)
	}
	return nil
}

// Delete deletes a blob if its ETag is still token.
func (s *store) Delete(ctx context.Context, name, token string) error {
	var o *blob.DeleteOptions
	if token != "" {
		o = &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: new(azcore.ETag(token))}}}
	}
	if _, err := s.client.NewBlobClient(name).Delete(ctx, o); err != nil {
		return s.fail("delete "+name, err)
	}
	return nil
}

// List lists the names under prefix.
func (s *store) List(ctx context.Context, prefix string, fn func(string) error) error {
	p := s.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("list "+prefix, err)
		}
		if page.Segment == nil {
			continue
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name == nil {
				continue
			}
			if err := fn(*b.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// errorMessage matches the Message element of an Azure Storage error body.
var errorMessage = regexp.MustCompile(`<Message>([^<\n]*)`)

// fail classifies an SDK error of operation op.
func (s *store) fail(op string, err error) error {
	if e := objectstore.NetworkError(op, s.endpoint, err); e != nil {
		e.Msg = objectstore.Scrub(e.Msg, s.secrets...)
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &objectstore.Error{Msg: op + ": canceled", Err: err}
	}
	e := &objectstore.Error{Err: err}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		e.Msg = objectstore.Scrub(fmt.Sprintf("%s: %v", op, err), s.secrets...)
		return e
	}
	status, code := re.StatusCode, re.ErrorCode
	detail := code
	if re.RawResponse != nil {
		if body, err := runtime.Payload(re.RawResponse); err == nil {
			if m := errorMessage.FindSubmatch(body); m != nil {
				detail += ": " + strings.TrimSpace(string(m[1]))
			}
		}
	}
	detail = fmt.Sprintf("%s (HTTP %d)", detail, status)
	switch {
	case code == "ContainerNotFound":
		e.Msg = fmt.Sprintf("%s: container %q does not exist at %s", op, s.name, s.endpoint)
	case code == "BlobNotFound" || status == http.StatusNotFound:
		e.Msg, e.Err = op+": not found", fmt.Errorf("%w: %w", destination.ErrNotFound, err)
	case code == "ConditionNotMet" || code == "BlobAlreadyExists" || status == http.StatusPreconditionFailed:
		e.Msg, e.Err = op+": "+objectstore.ErrConflict.Error(), fmt.Errorf("%w: %w", objectstore.ErrConflict, err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Msg = fmt.Sprintf("%s: access to container %q at %s denied: %s", op, s.name, s.endpoint, detail)
		e.Permanent = true
	case code == "ServerBusy" || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		e.Msg = fmt.Sprintf("%s: throttled by %s: %s", op, s.endpoint, detail)
		e.RetryAfter = time.Second
	case status == http.StatusRequestTimeout || status >= 500:
		e.Msg = fmt.Sprintf("%s: %s", op, detail)
	default:
		e.Msg = fmt.Sprintf("%s: rejected by %s: %s", op, s.endpoint, detail)
		e.Permanent = true
	}
	e.Msg = objectstore.Scrub(e.Msg, s.secrets...)
	return e
}
