package planner

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/parser"
)

// CreateFunction declares a user-defined function as Flink's CREATE
// FUNCTION name AS 'class' does: the class names a function registered
// with a Class (engine.RegisterFunction), which becomes callable as name.
// StreamSQL runs Go functions, not JVM classes, so an unknown class, or
// LANGUAGE PYTHON, is an error.
func (p *Planner) CreateFunction(s *parser.CreateFunctionStmt) error {
	name := strings.ToUpper(s.Name.Name)
	if s.Language == "PYTHON" {
		return errorf(s.Pos, "CREATE FUNCTION %s: LANGUAGE PYTHON is not supported (functions are Go functions registered with the engine)", name)
	}
	if _, builtin := scalarFuncs[name]; builtin || aggregateFuncs[name] != 0 || windowFuncs[name] || windowProps[name] != "" {
		return errorf(s.Name.Pos, "function %s is built in", name)
	}
	if _, ok := p.Catalog.Function(name); ok {
		if s.IfNotExists {
			return nil
		}
		return errorf(s.Name.Pos, "function %s already exists", name)
	}
	f, ok := p.Catalog.classes[s.Class]
	if !ok {
		known := p.Catalog.classNames()
		msg := fmt.Sprintf("CREATE FUNCTION %s: no function is registered for class '%s'", name, s.Class)
		if c := suggest.Closest(s.Class, known); c != "" {
			msg += fmt.Sprintf("; did you mean '%s'?", c)
		} else {
			msg += "; StreamSQL runs Go functions registered under a class name (engine.RegisterFunction), not JVM classes"
			if len(known) > 0 {
				msg += fmt.Sprintf(" (registered: %s)", strings.Join(known, ", "))
			}
		}
		return errorf(s.Pos, "%s", msg)
	}
	g := *f
	g.Name, g.Class = s.Name.Name, ""
	return p.Catalog.RegisterFunction(g)
}
