"""bench/load.py's workload and checker at small scale (seconds, not a minute), so the
checker itself runs in CI: two gunicorn nodes and a Celery worker on the test
database, then the same comparison of final state with what was acknowledged. The
checker is then shown to fail on each kind of damage it exists to find."""

from __future__ import annotations

import pytest

from tests.nodes.consistency import check, drain, prepare, run_load
from users.models import RoleMembership, User

pytestmark = pytest.mark.django_db(transaction=True)

SECONDS = 6.0


def test_load_leaves_nothing_lost_or_duplicated_and_the_checker_sees_damage(
    two_nodes, tmp_path, peer_keys, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # the receiver is on loopback
    two_nodes.running.worker()
    bases = [two_nodes.one.base, two_nodes.two.base]
    setup = prepare(bases, tmp_path, peer_keys["idp-signing"])
    try:
        ledger = run_load(setup, bases, seconds=SECONDS, scim_threads=3)
        drained_in = drain(timeout=90, check_running=two_nodes.running.check_running)
        verdict = check(ledger, setup, drained_in)

        assert verdict.passed, verdict.text()
        counts = verdict.counts
        for kind in ("users created (SCIM + Bulk)", "user updates", "memberships", "SAML logins"):
            assert counts[kind] > 0, verdict.text()
        assert counts["webhook events delivered"] >= counts["users created (SCIM + Bulk)"]
        assert any(op.startswith("bulk 200") for op in counts["answers"]), verdict.text()

        # Damage the checker must see: a membership removed behind the services' back,
        # a title changed the same way, a webhook event received twice.
        group_id, members = next((g, m) for g, m in ledger.members.items() if m)
        RoleMembership.objects.filter(role_id=group_id, user_id=next(iter(members))).delete()
        updated = next(iter(ledger.titles))
        User.objects.filter(pk=updated).update(title="changed behind its back")
        setup.receiver.event_ids.append(setup.receiver.event_ids[0])

        damaged = check(ledger, setup, drained_in)

        assert not damaged.passed
        assert damaged.problems["lost memberships"] == 1, damaged.text()
        assert damaged.problems["lost updates"] == 1, damaged.text()
        assert damaged.problems["webhook events delivered more than once"] == 1, damaged.text()
    finally:
        setup.receiver.stop()
