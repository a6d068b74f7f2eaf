// Package cguesttest tests the C guest library (../concord.h, ../concord.c)
// and its example through the resolver runtime. It has no code of its own:
// Go refuses C files in a package directory that does not use cgo, so the
// tests cannot live next to the C sources.
package cguesttest
