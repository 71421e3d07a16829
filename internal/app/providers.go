package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	sandboxfitbit "github.com/wearbridge/wearbridge/internal/sandbox/fitbit"
	sandboxgarmin "github.com/wearbridge/wearbridge/internal/sandbox/garmin"
	sandboxgoogle "github.com/wearbridge/wearbridge/internal/sandbox/googlefit"
	sandboxoura "github.com/wearbridge/wearbridge/internal/sandbox/oura"
	sandboxpolar "github.com/wearbridge/wearbridge/internal/sandbox/polar"
	sandboxstrava "github.com/wearbridge/wearbridge/internal/sandbox/strava"
	sandboxwhoop "github.com/wearbridge/wearbridge/internal/sandbox/whoop"
	sandboxwithings "github.com/wearbridge/wearbridge/internal/sandbox/withings"
	"github.com/wearbridge/wearbridge/internal/source"
	"github.com/wearbridge/wearbridge/internal/source/fitbit"
	"github.com/wearbridge/wearbridge/internal/source/garmin"
	"github.com/wearbridge/wearbridge/internal/source/googlefit"
	"github.com/wearbridge/wearbridge/internal/source/oura"
	"github.com/wearbridge/wearbridge/internal/source/polar"
	"github.com/wearbridge/wearbridge/internal/source/strava"
	"github.com/wearbridge/wearbridge/internal/source/whoop"
	"github.com/wearbridge/wearbridge/internal/source/withings"
)

// Credentials are a provider app's settings from its developer portal.
type Credentials struct {
	ClientID, ClientSecret string
	// PushSecret verifies pushes where the provider has a secret of its own
	// for them (Strava's verify token, Fitbit's subscriber verification
	// code, Polar's webhook signature key). Empty where not needed.
	PushSecret string
}

// PushSimulator replays a sandbox provider's recorded pushes (or push
// notifications) for one provider user to pushURL.
type PushSimulator func(ctx context.Context, hc *http.Client, pushURL, providerUserID string) (int, error)

// providerSpec is how one provider is built: for real, from its
// credentials, and in sandbox mode, with its fake mounted at base.
type providerSpec struct {
	name    string
	real    func(c Credentials, depth time.Duration) source.Provider
	sandbox func(base string) (source.Provider, http.Handler)
	push    PushSimulator // sandbox only; nil for pull-only providers
}

// providers lists every provider: the one place that names them.
func providers() []providerSpec {
	return []providerSpec{
		{
			name: "OURA",
			real: func(c Credentials, depth time.Duration) source.Provider {
				return oura.New(oura.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, BackfillDepth: depth})
			},
			sandbox: func(base string) (source.Provider, http.Handler) {
				cfg := oura.Config{ClientID: "sandbox-oura", ClientSecret: "sandbox-secret",
					AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", APIBase: base,
					BackfillDepth: time.Since(SandboxRecordedSince)}
				return oura.New(cfg), sandboxoura.New(sandboxoura.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret})
			},
		},
		{
			name: "GARMIN",
			real: func(c Credentials, _ time.Duration) source.Provider {
				return garmin.New(garmin.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret})
			},
			sandbox: func(base string) (source.Provider, http.Handler) {
				cfg := garmin.Config{ClientID: "sandbox-garmin", ClientSecret: "sandbox-secret",
					AuthURL: base + sandboxgarmin.DefaultAuthorizePath, TokenURL: base + sandboxgarmin.DefaultTokenPath, APIBase: base}
				return garmin.New(cfg), sandboxgarmin.New(sandboxgarmin.Config{})
			},
			push: func(ctx context.Context, hc *http.Client, pushURL, _ string) (int, error) {
				return sandboxgarmin.PushAll(ctx, hc, pushURL)
			},
		},
		{
			name: "STRAVA",
			real: func(c Credentials, depth time.Duration) source.Provider {
				return strava.New(strava.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, VerifyToken: c.PushSecret, BackfillDepth: depth})
			},
			sandbox: func(base string) (source.Provider, http.Handler) {
				return strava.New(sandboxstrava.ProviderConfig(base)), sandboxstrava.New(sandboxstrava.Config{})
			},
			push: sandboxstrava.PushAll,
		},
		{
			name: "WHOOP",
			real: func(c Credentials, depth time.Duration) source.Provider {
				return whoop.New(whoop.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, WebhookSecret: c.PushSecret, BackfillDepth: depth})
			},
			sandbox: func(base string) (source.Provider, http.Handler) {
				return whoop.New(sandboxwhoop.ProviderConfig(base)), sandboxwhoop.New(sandboxwhoop.Config{})
			},
			push: sandboxwhoop.PushAll,
		},
		{
			name: "FITBIT",
			real: func(c Credentials, depth time.Duration) source.Provider {
				return fitbit.New(fitbit.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, SubscriberVerificationCode: c.PushSecret, BackfillDepth: depth})
			},
			sandbox: func(base string) (source.Provider, http.Handler) {
				return fitbit.New(sandboxfitbit.ProviderConfig(base)), sandboxfitbit.New(sandboxfitbit.Config{})
			},
			push: sandboxfitbit.PushAll,
		},
		{
			name: "WITHINGS",
			real: func(c Credentials, depth time.Duration) source.Provider {
				return withings.New(withings.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, NotifyToken: c.PushSecret, BackfillDepth: depth})
			},
			sandbox: func(base string) (source.Provider, http.Handler) {
				return withings.New(sandboxwithings.ProviderConfig(base)), sandboxwithings.New(sandboxwithings.Config{})
			},
			push: sandboxwithings.PushAll,
		},
		{
			name: "POLAR",
			real: func(c Credentials, depth time.Duration) source.Provider {
				return polar.New(polar.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, WebhookSecret: c.PushSecret, BackfillDepth: depth})
			},
			sandbox: func(base string) (source.Provider, http.Handler) {
				return polar.New(sandboxpolar.ProviderConfig(base)), sandboxpolar.New(sandboxpolar.Config{})
			},
			push: sandboxpolar.PushAll,
		},
		{
			name: "GOOGLE",
			real: func(c Credentials, depth time.Duration) source.Provider {
				return googlefit.New(googlefit.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, BackfillDepth: depth})
			},
			sandbox: func(base string) (source.Provider, http.Handler) {
				return googlefit.New(sandboxgoogle.ProviderConfig(base)), sandboxgoogle.New(sandboxgoogle.Config{})
			},
		},
	}
}

// ProviderNames lists every provider wearbridge has, in its spelling.
func ProviderNames() []string {
	var names []string
	for _, p := range providers() {
		names = append(names, p.name)
	}
	return names
}

// sandboxPath is where a provider's fake is mounted: /sandbox/<name>.
func sandboxPath(name string) string { return "/sandbox/" + strings.ToLower(name) }
