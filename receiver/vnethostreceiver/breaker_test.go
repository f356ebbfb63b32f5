package vnethostreceiver

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBreaker(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newBreaker(func() time.Time { return now })
	fail := errors.New("read failed")

	// Two failures keep it closed; the third opens it for 5s.
	for range 2 {
		assert.True(t, b.allow())
		b.done(fail)
	}
	assert.False(t, b.open())
	b.done(fail)
	assert.True(t, b.open())
	assert.False(t, b.allow())
	now = now.Add(4 * time.Second)
	assert.False(t, b.allow())
	now = now.Add(time.Second)
	assert.True(t, b.allow(), "half-open after the pause")

	// A failed retry doubles the pause: 10s, then 20s.
	b.done(fail)
	now = now.Add(9 * time.Second)
	assert.False(t, b.allow())
	now = now.Add(time.Second)
	assert.True(t, b.allow())
	b.done(fail)
	now = now.Add(19 * time.Second)
	assert.False(t, b.allow())
	now = now.Add(time.Second)

	// One success closes it and resets the pause.
	assert.True(t, b.allow())
	b.done(nil)
	assert.False(t, b.open())
	for range 3 {
		b.done(fail)
	}
	now = now.Add(5 * time.Second)
	assert.True(t, b.allow(), "pause back to 5s after a success")
}

func TestBreakerPauseIsCapped(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBreaker(func() time.Time { return now })
	for range 40 {
		b.done(errors.New("x"))
	}
	now = now.Add(5 * time.Minute)
	assert.True(t, b.allow())
}
