"""The conductor: every instance workflow and every instance write after the API's first."""
