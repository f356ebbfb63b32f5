package sharedcomp

import "testing"

func TestMap(t *testing.T) {
	var m Map[string, int]
	made := 0
	var forgetA func()
	create := func(forget func()) *int {
		made++
		forgetA = forget
		v := made
		return &v
	}
	a1 := m.Get("a", create)
	a2 := m.Get("a", create)
	if a1 != a2 || made != 1 {
		t.Fatalf("same key made %d values", made)
	}
	m.Get("b", func(func()) *int { v := 9; return &v })
	if m.Len() != 2 {
		t.Fatalf("len %d", m.Len())
	}
	forgetA()
	if m.Len() != 1 {
		t.Fatalf("forgotten value still held: len %d", m.Len())
	}
	if a3 := m.Get("a", create); a3 == a1 || *a3 != 2 {
		t.Fatalf("after forget, got the old value")
	}
}
