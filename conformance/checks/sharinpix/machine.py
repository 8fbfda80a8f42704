"""sharinpix state machine (SPX-02, SPX-03): Hypothesis posts generated images and judges each answer."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from conformance.findings import judged

from .common import body_of, cloudinary_hashes, encode, image_breaks, metadatas_maps, post_form, seed_example

pytestmark = pytest.mark.api("sharinpix")


class SharinpixMachine(RuleBasedStateMachine):
    """Creates images from generated Cloudinary hashes and from the seed's own example body; each 200 body
    must echo what was sent (SPX-02: the bracket keys decoded; SPX-03: the echo rules)."""

    def __init__(self, target, http):
        super().__init__()
        self.target, self.http = target, http

    def _create(self, body: str, cloudinary: dict, metadatas: dict) -> None:
        r = judged(post_form(self.http, body, self.target.album_id))
        assert r.is_success, f"create image: expected 200 (SPX-03), got {r.status_code}: {r.text[:300]}"
        breaks = image_breaks(body_of(r), cloudinary, metadatas, self.target.album_id)
        assert not breaks, f"({breaks[0][0]}) " + "; ".join(message for _, message in breaks)[:600]

    @rule(data=st.data(), metadatas=metadatas_maps)
    def create_generated(self, data, metadatas):
        cloudinary = data.draw(cloudinary_hashes(self.target.unique("pid")))
        self._create(encode(cloudinary, metadatas), cloudinary, metadatas)

    @rule()
    def create_seed_example(self):
        self._create(*seed_example(self.target.unique("seed")))


@pytest.mark.writes
@pytest.mark.rule("SPX-03", "SPX-02")
def check_spx_state_machine(target, http, hypothesis_settings):
    run_state_machine_as_test(lambda: SharinpixMachine(target, http), settings=hypothesis_settings)
