package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// suite is sdk/conformance/cases.json (see ../README.md for the format).
type suite struct {
	Version    int             `json:"version"`
	Namespaces []namespaceDecl `json:"namespaces"`
	Cases      []testCase      `json:"cases"`
}

// namespaceDecl is a namespace the run script creates; the runner only
// checks that cases name declared ones.
type namespaceDecl struct {
	Name     string          `json:"name"`
	Settings json.RawMessage `json:"settings"`
	Resolver json.RawMessage `json:"resolver"`
}

type testCase struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Steps     []step `json:"steps"`
}

// step is one call and what it must return.
type step struct {
	Op               string     `json:"op"`
	Namespace        string     `json:"namespace"`
	Key              *byteSpec  `json:"key"`
	RawKey           bool       `json:"raw_key"`
	Value            *byteSpec  `json:"value"`
	Prefix           *byteSpec  `json:"prefix"`
	Context          string     `json:"context"`
	R                uint32     `json:"r"`
	W                uint32     `json:"w"`
	DW               uint32     `json:"dw"`
	IfAbsent         bool       `json:"if_absent"`
	IfContextCurrent bool       `json:"if_context_current"`
	Force            bool       `json:"force"`
	Overwrite        bool       `json:"overwrite"`
	PageSize         uint32     `json:"page_size"`
	Limit            uint32     `json:"limit"`
	Token            string     `json:"token"`
	Save             string     `json:"save"`
	Expect           *expect    `json:"expect"`
	Error            *wantError `json:"error"`
}

// expect is what a successful step returns; nil fields are not checked.
type expect struct {
	Found      *bool       `json:"found"`
	Values     *[]byteSpec `json:"values"`
	Siblings   *int        `json:"siblings"`
	ResolvedBy *string     `json:"resolved_by"`
	Keys       *[]byteSpec `json:"keys"`
	KeySet     *[]byteSpec `json:"key_set"`
	KeyCount   *int        `json:"key_count"`
	Context    *bool       `json:"context"`
}

// wantError is how a step fails; empty fields are not checked.
type wantError struct {
	Code       string      `json:"code"`
	Kind       string      `json:"kind"`
	Limit      string      `json:"limit"`
	HasCurrent *bool       `json:"has_current"`
	Values     *[]byteSpec `json:"values"`
}

// byteSpec is a byte string: exactly one of utf8, hex or fill.
type byteSpec struct {
	UTF8 *string `json:"utf8"`
	Hex  *string `json:"hex"`
	Fill *struct {
		Byte  string `json:"byte"`
		Count int    `json:"count"`
	} `json:"fill"`
}

// maxFill bounds a fill (the largest max_value_bytes a namespace may have
// is 16 MiB).
const maxFill = 16<<20 + 1

func (b *byteSpec) bytes() ([]byte, error) {
	set := 0
	for _, ok := range []bool{b.UTF8 != nil, b.Hex != nil, b.Fill != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("a byte string needs exactly one of utf8, hex, fill")
	}
	switch {
	case b.UTF8 != nil:
		return []byte(*b.UTF8), nil
	case b.Hex != nil:
		return hex.DecodeString(*b.Hex)
	}
	one, err := hex.DecodeString(b.Fill.Byte)
	if err != nil || len(one) != 1 {
		return nil, fmt.Errorf("fill byte %q: want two hex digits", b.Fill.Byte)
	}
	if b.Fill.Count < 0 || b.Fill.Count > maxFill {
		return nil, fmt.Errorf("fill count %d: want 0 to %d", b.Fill.Count, maxFill)
	}
	return bytes.Repeat(one, b.Fill.Count), nil
}

func specsBytes(specs []byteSpec) ([][]byte, error) {
	out := make([][]byte, len(specs))
	for i := range specs {
		b, err := specs[i].bytes()
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// codes are the Connect codes a case may expect (lower snake case, as
// connect.Code prints them).
var codes = map[string]bool{
	"invalid_argument": true, "not_found": true, "already_exists": true, "failed_precondition": true,
	"resource_exhausted": true, "unauthenticated": true, "permission_denied": true, "unavailable": true,
}

// loadSuite reads and checks a cases file: a mistake in it fails the run
// before any call is made.
func loadSuite(path string) (*suite, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var s suite
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

func (s *suite) validate() error {
	if s.Version != 1 {
		return fmt.Errorf("version %d: this runner reads version 1", s.Version)
	}
	declared := map[string]bool{}
	for _, ns := range s.Namespaces {
		if ns.Name == "" || declared[ns.Name] {
			return fmt.Errorf("namespace %q: empty or declared twice", ns.Name)
		}
		declared[ns.Name] = true
	}
	if len(s.Cases) == 0 {
		return errors.New("no cases")
	}
	names := map[string]bool{}
	for i, c := range s.Cases {
		if c.Name == "" || names[c.Name] {
			return fmt.Errorf("case %d %q: empty or repeated name", i, c.Name)
		}
		names[c.Name] = true
		if !declared[c.Namespace] {
			return fmt.Errorf("case %q: namespace %q is not declared", c.Name, c.Namespace)
		}
		if len(c.Steps) == 0 {
			return fmt.Errorf("case %q: no steps", c.Name)
		}
		saved := map[string]bool{}
		for j := range c.Steps {
			if err := c.Steps[j].validate(saved); err != nil {
				return fmt.Errorf("case %q step %d: %w", c.Name, j+1, err)
			}
		}
	}
	return nil
}

// validate checks a step's fields against its op; saved holds the names
// earlier steps saved, and gets this step's.
func (st *step) validate(saved map[string]bool) error {
	type field struct {
		set bool
		ops string
	}
	has := func(b *byteSpec) bool { return b != nil }
	fields := map[string]field{
		"key": {has(st.Key), "put get delete"}, "raw_key": {st.RawKey, "put get delete"},
		"value": {has(st.Value), "put"}, "prefix": {has(st.Prefix), "list"},
		"context": {st.Context != "", "put delete"}, "r": {st.R != 0, "get"},
		"w": {st.W != 0, "put delete"}, "dw": {st.DW != 0, "put"},
		"if_absent": {st.IfAbsent, "put"}, "if_context_current": {st.IfContextCurrent, "put"},
		"force": {st.Force, "delete"}, "overwrite": {st.Overwrite, "put"}, "page_size": {st.PageSize != 0, "list"}, "limit": {st.Limit != 0, "list"},
	}
	ops := map[string]bool{"put": true, "get": true, "delete": true, "list": true}
	if !ops[st.Op] {
		return fmt.Errorf("op %q: want put, get, delete or list", st.Op)
	}
	for name, f := range fields {
		if f.set && !appliesTo(f.ops, st.Op) {
			return fmt.Errorf("%s is not a field of %s", name, st.Op)
		}
	}
	if st.Op != "list" && st.Key == nil {
		return errors.New("key is required")
	}
	if st.Op == "put" && st.Value == nil {
		return errors.New("value is required")
	}
	for _, b := range []*byteSpec{st.Key, st.Value, st.Prefix} {
		if b != nil {
			if _, err := b.bytes(); err != nil {
				return err
			}
		}
	}
	if st.Context != "" && !saved[st.Context] {
		return fmt.Errorf("context %q: no earlier step saved it", st.Context)
	}
	if st.Token != "" && st.Token != "none" && st.Token != "bad" {
		return fmt.Errorf("token %q: want none or bad", st.Token)
	}
	if (st.Expect == nil) == (st.Error == nil) {
		return errors.New("want exactly one of expect and error")
	}
	if st.Expect != nil {
		if err := st.Expect.validate(st.Op); err != nil {
			return err
		}
	}
	if st.Error != nil {
		if err := st.Error.validate(); err != nil {
			return err
		}
		if st.Save != "" && (st.Error.HasCurrent == nil || !*st.Error.HasCurrent) {
			return errors.New("a failed step saves only the current object of a conflict: set has_current")
		}
	}
	if st.Save != "" {
		saved[st.Save] = true
	}
	return nil
}

// appliesTo reports whether op is one of the space-separated ops.
func appliesTo(ops, op string) bool { return slices.Contains(strings.Fields(ops), op) }

func (e *expect) validate(op string) error {
	for _, f := range []struct {
		name string
		set  bool
		ops  string
	}{
		{"found", e.Found != nil, "get"}, {"values", e.Values != nil, "get"},
		{"siblings", e.Siblings != nil, "get"}, {"resolved_by", e.ResolvedBy != nil, "get"},
		{"keys", e.Keys != nil, "list"}, {"key_set", e.KeySet != nil, "list"}, {"key_count", e.KeyCount != nil, "list"},
		{"context", e.Context != nil, "get put delete"},
	} {
		if f.set && !appliesTo(f.ops, op) {
			return fmt.Errorf("expect.%s does not apply to %s", f.name, op)
		}
	}
	for _, list := range []*[]byteSpec{e.Values, e.Keys, e.KeySet} {
		if list != nil {
			if _, err := specsBytes(*list); err != nil {
				return err
			}
		}
	}
	return nil
}

// kinds are the SDK error kinds a case may expect (see kindMatches).
var kinds = map[string]bool{
	"already_exists": true, "conflict": true, "limit": true, "quorum": true, "not_found": true,
	"unauthenticated": true, "permission_denied": true, "invalid": true,
}

func (e *wantError) validate() error {
	if e.Code != "" && !codes[e.Code] {
		return fmt.Errorf("error.code %q is not one of the suite's codes", e.Code)
	}
	if e.Kind != "" && !kinds[e.Kind] {
		return fmt.Errorf("error.kind %q is not one of the suite's kinds", e.Kind)
	}
	if e.Code == "" && e.Kind == "" {
		return errors.New("error needs a code or a kind")
	}
	if e.Values != nil {
		if _, err := specsBytes(*e.Values); err != nil {
			return err
		}
	}
	return nil
}
