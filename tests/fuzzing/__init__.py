"""Random programs in adjoint's language (generate.py), checked against central differences
(check.py); test_fuzz.py runs a fixed sample in CI, `make fuzz` a long campaign (__main__.py).
Known bugs the generator steers around are listed in generate.AVOID; generate.GATES names
the constructs a campaign can steer around with FUZZ_AVOID=name,name while a bug in one is
being fixed (each is written by default)."""
