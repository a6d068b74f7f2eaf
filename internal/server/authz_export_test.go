package server

// HasAuthzRule reports whether the authorisation table names procedure.
func HasAuthzRule(procedure string) bool { _, ok := rules[procedure]; return ok }
