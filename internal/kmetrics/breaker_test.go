package kmetrics

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBreaker(t *testing.T) {
	now := time.Unix(1000, 0)
	b := NewBreaker(func() time.Time { return now })
	fail := errors.New("read failed")

	// Two failures keep it closed; the third opens it for 5s.
	for range 2 {
		assert.True(t, b.Allow())
		b.Done(fail)
	}
	assert.False(t, b.Open())
	b.Done(fail)
	assert.True(t, b.Open())
	assert.False(t, b.Allow())
	now = now.Add(4 * time.Second)
	assert.False(t, b.Allow())
	now = now.Add(time.Second)
	assert.True(t, b.Allow(), "half-open after the pause")

	// A failed retry doubles the pause: 10s, then 20s.
	b.Done(fail)
	now = now.Add(9 * time.Second)
	assert.False(t, b.Allow())
	now = now.Add(time.Second)
	assert.True(t, b.Allow())
	b.Done(fail)
	now = now.Add(19 * time.Second)
	assert.False(t, b.Allow())
	now = now.Add(time.Second)

	// One success closes it and resets the pause.
	assert.True(t, b.Allow())
	b.Done(nil)
	assert.False(t, b.Open())
	for range 3 {
		b.Done(fail)
	}
	now = now.Add(5 * time.Second)
	assert.True(t, b.Allow(), "pause back to 5s after a success")
}

func TestBreakerPauseIsCapped(t *testing.T) {
	now := time.Unix(0, 0)
	b := NewBreaker(func() time.Time { return now })
	for range 40 {
		b.Done(errors.New("x"))
	}
	now = now.Add(5 * time.Minute)
	assert.True(t, b.Allow())
}
