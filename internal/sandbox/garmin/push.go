package garmin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/wearbridge/wearbridge/internal/sandbox/fixtures"
)

// pushDir is the folder of the recorded push payloads in fixtures.FS.
const pushDir = "garmin"

// PushFiles returns the paths, within fixtures.FS, of the recorded push
// payloads, in the order PushAll sends them.
func PushFiles() ([]string, error) {
	entries, err := fs.ReadDir(fixtures.FS, pushDir)
	if err != nil {
		return nil, fmt.Errorf("list garmin pushes: %w", err)
	}
	var out []string
	for _, e := range entries { // ReadDir sorts by name
		if !e.IsDir() && strings.HasPrefix(e.Name(), "push_") && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, path.Join(pushDir, e.Name()))
		}
	}
	return out, nil
}

// PushAll POSTs every recorded Garmin push payload, byte for byte, to
// pushURL with Content-Type application/json, as Garmin's push service
// would. It stops at the first response that is not 2xx and returns an
// error with its status and body. It returns how many pushes were accepted.
func PushAll(ctx context.Context, hc *http.Client, pushURL string) (int, error) {
	files, err := PushFiles()
	if err != nil {
		return 0, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	sent := 0
	for _, f := range files {
		body, err := fs.ReadFile(fixtures.FS, f)
		if err != nil {
			return sent, fmt.Errorf("read %s: %w", f, err)
		}
		if err := push(ctx, hc, pushURL, body); err != nil {
			return sent, fmt.Errorf("push %s: %w", path.Base(f), err)
		}
		sent++
	}
	return sent, nil
}

func push(ctx context.Context, hc *http.Client, pushURL string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pushURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Garmin Health API")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<12)) // best effort, for the error message
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(reply)))
	}
	return nil
}
