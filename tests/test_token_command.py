"""axero_idp.token_command: the shape both token commands share."""

from __future__ import annotations

import pytest

from axero_idp.token_command import TokenCommand


def test_a_token_command_missing_a_hook_cannot_be_loaded():
    class HalfDone(TokenCommand):
        label = "test token"

        def token_create(self, *, name, actor, options):
            return None, ""

    with pytest.raises(TypeError, match="token_revoke"):
        HalfDone()
