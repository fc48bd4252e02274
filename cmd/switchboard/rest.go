package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// adminGet reads a list endpoint of a running server's REST API with the
// admin key: the decoded data array into out, and the raw answer. The
// subcommands that talk to a running server (calls, cluster) use it; the
// others open the data directory.
func adminGet(ctx context.Context, base, key, path string, out any) ([]byte, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + path)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("--url %q: want http://host:port or https://host:port", base)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
			Code  string `json:"code"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("%s (%d %s)", e.Error, res.StatusCode, e.Code)
		}
		return nil, fmt.Errorf("%s answered %s", u.Redacted(), res.Status)
	}
	list := struct {
		Data any `json:"data"`
	}{Data: out}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("unreadable answer: %w", err)
	}
	return raw, nil
}
