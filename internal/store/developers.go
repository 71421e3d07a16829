package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wearbridge/wearbridge/internal/secretbox"
)

// Developer is an account of the product: it owns users and destinations.
type Developer struct {
	ID            string
	SigningSecret string
	CreatedAt     time.Time
}

// NewDeveloper is what CreateDeveloper returns: the account and its API
// key, which is shown once and stored only as a hash.
type NewDeveloper struct {
	Developer
	APIKey string
}

// CreateDeveloper creates a developer with a new API key and signing secret.
func (s *Store) CreateDeveloper(ctx context.Context) (NewDeveloper, error) {
	d := NewDeveloper{
		Developer: Developer{
			ID:            "wearbridge-dev-" + secretbox.RandomToken(9),
			SigningSecret: "whsec_" + secretbox.RandomToken(24),
			CreatedAt:     s.now().UTC().Truncate(time.Millisecond),
		},
		APIKey: "wbk_" + secretbox.RandomToken(32),
	}
	sealed, err := s.seal(d.SigningSecret)
	if err != nil {
		return d, err
	}
	if _, err := s.exec(ctx, `INSERT INTO developers (id, api_key_hash, signing_secret, created_at) VALUES (?, ?, ?, ?)`,
		d.ID, secretbox.HashKey(d.APIKey), sealed, ms(d.CreatedAt)); err != nil {
		return d, fmt.Errorf("create developer: %w", err)
	}
	return d, nil
}

// Authenticate returns the developer whose id and API key match. Any
// mismatch is ErrNotFound.
func (s *Store) Authenticate(ctx context.Context, devID, apiKey string) (Developer, error) {
	if devID == "" || apiKey == "" {
		return Developer{}, ErrNotFound
	}
	var hash string
	d, err := s.developer(ctx, devID, &hash)
	if err != nil {
		return Developer{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(secretbox.HashKey(apiKey))) != 1 {
		return Developer{}, ErrNotFound
	}
	return d, nil
}

// Developer returns a developer by id.
func (s *Store) Developer(ctx context.Context, id string) (Developer, error) {
	var hash string
	return s.developer(ctx, id, &hash)
}

func (s *Store) developer(ctx context.Context, id string, hash *string) (Developer, error) {
	var d Developer
	var sealed string
	var created int64
	err := s.queryRow(ctx, `SELECT id, api_key_hash, signing_secret, created_at FROM developers WHERE id = ?`, id).
		Scan(&d.ID, hash, &sealed, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("get developer: %w", err)
	}
	if d.SigningSecret, err = s.open(sealed); err != nil {
		return d, fmt.Errorf("get developer: signing secret: %w", err)
	}
	d.CreatedAt = fromMS(created)
	return d, nil
}
