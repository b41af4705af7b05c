package domain

import "time"

// Session is a browser's login at Gatehouse. The cookie holds a random id; only its
// hash is stored, so a database leak cannot be replayed as a cookie.
type Session struct {
	IDHash    []byte
	UserID    string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}
