import Patterns
