"""A finding's curl says so when the suite itself later removed the data it is about (its replay then
meets a 404 that is the suite's doing, not the server's)."""

from __future__ import annotations

import os
import subprocess
from types import SimpleNamespace

import httpx
import pytest

from conformance.recording import as_curl
from conformance.rule_plugin import _removed_later
from image_api_contracts import APIS


def _exchange(method: str, url: str, status: int):
    request = httpx.Request(method, url)
    return request, httpx.Response(status, request=request)


def _item(*exchanges):
    return SimpleNamespace(conformance_client=SimpleNamespace(exchanges=list(exchanges)))


def test_a_later_delete_of_the_same_resource_or_its_parent_is_named():
    get = _exchange("GET", "http://h/v1/tags/27/images", 200)
    item = _item(get, _exchange("DELETE", "http://h/v1/tags/27", 204))
    assert _removed_later(item, get[0]) == "DELETE /v1/tags/27"


def test_an_earlier_a_failed_or_an_unrelated_delete_is_not():
    post = _exchange("POST", "http://h/v1/tags", 201)
    earlier = _exchange("DELETE", "http://h/v1/tags", 204)
    item = _item(earlier, post, _exchange("DELETE", "http://h/v1/tags/27", 204))
    assert _removed_later(item, post[0]) is None  # /tags/27 is not what POST /tags is about
    get = _exchange("GET", "http://h/v1/images/5", 500)
    item = _item(
        get,
        _exchange("DELETE", "http://h/v1/images/5", 404),
        _exchange("DELETE", "http://h/v1/images/6", 204),
    )
    assert _removed_later(item, get[0]) is None


def test_a_delete_by_the_checks_clean_up_after_its_body_is_named_by_the_curl():
    from conformance.recording import REMOVALS, RecordingClient
    from conformance.rule_plugin import REMOVED_NOTE, ConformancePlugin, Outcome
    from conformance.target import Target

    plugin = ConformancePlugin(Target(api="tagged-images", base_url="http://h/v1"))
    curl = "curl -X GET http://h/v1/images/5"
    plugin.results.add(["TIM-06"], Outcome("check_a", "fail", "wrong", curl))
    plugin.results.add(["TIM-06"], Outcome("check_a", "fail", "other", "curl -X GET http://h/v1/images/6"))
    plugin.results.add(["TIM-07"], Outcome("check_b", "fail", "not this check's", curl))
    REMOVALS.clear()
    mark = len(REMOVALS)

    def answer(request):
        return httpx.Response(204 if request.url.path.endswith("/5") else 404)

    with RecordingClient(base_url="http://h/v1", transport=httpx.MockTransport(answer)) as client:
        client.delete("/images/5")  # the clean-up, once the check's body returned
        client.delete("/images/6")  # failed: nothing removed
    plugin._note_removed("check_a", REMOVALS.since(mark))
    a, other = plugin.results.by_rule["TIM-06"]
    assert a.curl == f"{curl}{REMOVED_NOTE} (DELETE /v1/images/5, after the check)"
    assert other.curl == "curl -X GET http://h/v1/images/6"
    assert plugin.results.by_rule["TIM-07"][0].curl == curl
    REMOVALS.clear()


def _record_server(request):
    """A record named by a UUID and one named by a file name, each with a file URL on the same host."""
    if request.method == "DELETE":
        return httpx.Response(204)
    if request.url.path.endswith("/images"):
        return httpx.Response(201, json={"id": "2f1c6b2e-7d5a-4e8b", "url": "http://h/files/ev/2f1c6b2e.png"})
    if request.url.path.endswith("/UploadImage"):
        data = {"fileName": "ab12cd_photo.png", "mediaLink": "http://h/files/iu/ab12cd_photo.png"}
        return httpx.Response(200, json={"data": data})
    return httpx.Response(201, json={"id": 7, "url": "http://h/files/tim/7.png"})


def test_a_file_url_is_removed_with_its_record_whether_named_by_path_or_by_query():
    """A record's file URL lies under no path of the record's: the DELETE of the record (by its id in the
    path, or its file name in the query) marks the file's curl, and only that record's."""
    from conformance.recording import RECORD_FILES, REMOVALS, RecordingClient, removed_among

    REMOVALS.clear()
    RECORD_FILES.clear()
    with RecordingClient(base_url="http://h", transport=httpx.MockTransport(_record_server)) as client:
        client.post("/s/p/images")
        client.post("/UploadImage")
        client.post("/v1/upload")  # id 7: too short to name one record among others
        mark = len(REMOVALS)
        client.delete("/s/p/images/2f1c6b2e-7d5a-4e8b")
        client.delete("/DeleteImage", params={"FileName": "ab12cd_photo.png"})
        client.delete("/v1/tags/7")  # a tag with the same small id: the image's file is still there
    removed = REMOVALS.since(mark)
    assert removed_among("/files/ev/2f1c6b2e.png", removed) == "/s/p/images/2f1c6b2e-7d5a-4e8b"
    assert removed_among("/files/iu/ab12cd_photo.png", removed) == "/DeleteImage"
    assert removed_among("/files/tim/7.png", removed) is None
    assert removed_among("/files/ev/other.png", removed) is None
    REMOVALS.clear()
    RECORD_FILES.clear()


@pytest.mark.parametrize("api", [name for name, profile in APIS.items() if profile.auth_header])
def test_a_curl_pasted_into_a_shell_with_token_set_sends_the_credential(api):
    """The credential is printed as ``$TOKEN``; pasted into a shell with TOKEN set, the curl sends the
    header the API documents with that credential (a single-quoted ``$TOKEN`` would be sent as is)."""
    credential = "tok-$1`x\\y"  # what a shell would otherwise touch
    header, value = next(iter(APIS[api].auth_headers(credential).items()))
    request = httpx.Request("GET", "http://127.0.0.1:9/x", headers={header: value})
    curl = as_curl(request)
    assert credential not in curl and "$TOKEN" in curl, curl
    words = subprocess.run(
        ["bash", "-c", "printf '%s\\n' " + curl.removeprefix("curl ")],
        env={"TOKEN": credential, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.splitlines()
    assert f"{header.lower()}: {value}" in words, words
