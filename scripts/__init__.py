"""The command lines, each a thin ``main()`` over the packages; installed as albert-* commands (setup.cfg)."""
