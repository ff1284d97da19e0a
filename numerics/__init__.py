"""Fast float64 evaluators and solvers, with mpmath versions where precision matters."""
