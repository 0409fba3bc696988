"""``stratus guest-image build``: a tiny Linux guest made from Debian packages only."""
