package dvv

import "errors"

var (
	// ErrBadContext is wrapped by every error of [DecodeContext].
	ErrBadContext = errors.New("dvv: malformed context")
	// ErrBadObject is wrapped by every error of [Unmarshal].
	ErrBadObject = errors.New("dvv: malformed object")
)
