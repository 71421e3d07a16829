package strava

import (
	"errors"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wearbridge/wearbridge/internal/source"
)

func TestRefreshRefused(t *testing.T) {
	resp := func(status int) *http.Response { return &http.Response{StatusCode: status} }
	tests := []struct {
		name string
		re   *oauth2.RetrieveError
		want bool
	}{
		{"invalid_grant", &oauth2.RetrieveError{ErrorCode: "invalid_grant", Response: resp(400)}, true},
		{"invalid_client", &oauth2.RetrieveError{ErrorCode: "invalid_client", Response: resp(400)}, false},
		{"strava fault for the refresh token", &oauth2.RetrieveError{Response: resp(400),
			Body: []byte(`{"message":"Bad Request","errors":[{"resource":"RefreshToken","field":"refresh_token","code":"invalid"}]}`)}, true},
		{"strava fault for the client", &oauth2.RetrieveError{Response: resp(400),
			Body: []byte(`{"message":"Bad Request","errors":[{"resource":"Application","field":"client_secret","code":"invalid"}]}`)}, false},
		{"server error", &oauth2.RetrieveError{Response: resp(500), Body: []byte(`{"message":"error"}`)}, false},
		{"no response", &oauth2.RetrieveError{}, false},
	}
	for _, tt := range tests {
		Eq(t, tt.name, refreshRefused(tt.re), tt.want)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
		unauth bool
	}{
		{404, `{"message":"Record Not Found","errors":[{"resource":"Activity","field":"id","code":"invalid"}]}`,
			"strava: http 404: Record Not Found (Activity.id invalid)", false},
		{401, `{"message":"Authorization Error","errors":[{"resource":"AccessToken","field":"activity:read_permission","code":"missing"}]}`,
			"strava: http 401: Authorization Error (AccessToken.activity:read_permission missing)", true},
		// The recorded 429 body (activity_ratelimit_429.vcr.yml) has
		// "errors" as a string.
		{429, `{"errors":"Rate Limit Exceeded","status":429,"message":"Too Many Requests"}`,
			"strava: http 429: Too Many Requests Rate Limit Exceeded", false},
		{502, `<html>Bad Gateway</html>`, "strava: http 502: <html>Bad Gateway</html>", false},
	}
	for _, tt := range tests {
		err := parseFault(tt.status, []byte(tt.body))
		Eq(t, "message", err.Error(), tt.want)
		Eq(t, "unauthorized", errors.Is(err, source.ErrUnauthorized), tt.unauth)
	}
}
