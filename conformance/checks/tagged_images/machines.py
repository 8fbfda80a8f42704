"""tagged-images state machines (TIM-01..12): Hypothesis drives records, tags and searches in random
orders and compares every answer with a model of what the server must hold."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conformance.findings import NotExercised, check, judged, refused, should
from conformance.media import MIME, images, photo

from .common import (
    MISSING_ID,
    TAG_PAGING,
    UNKNOWN_ID_404,
    WORDS,
    body_of,
    create_body,
    created_id,
    fetched,
    fetched_from,
    got,
    is_int,
    judge_uploaded_file,
    like,
    newest_first_problem,
    owner_of,
    pages,
    parallel,
    put_file,
    record_of,
    record_problems,
    sent,
    tag_names,
    upload_body,
)

pytestmark = pytest.mark.api("tagged-images")


# -- state machines ---------------------------------------------------------------------------------------
@dataclass
class Mine:
    id: int
    filename: str
    tags: list[str]  # names
    created: int
    upload_url: str | None
    data: bytes | None = None


class TaggedMachine(RuleBasedStateMachine):
    """Creates records (some uploaded, with mixed-case tags under a tag unique to the run) and keeps a
    model of them; subclasses add the rules they check. ``owns`` are the rules the machine's check judges:
    a step owned by another rule that goes wrong stops the run as not exercised (see that rule)."""

    owns: tuple[str, ...] = ()

    def __init__(self, target, http, raw, sweeper: Sweeper):
        super().__init__()
        self.target, self.http, self.raw, self.sweeper = target, http, raw, sweeper
        self.home = target.unique("sm")
        self.images: dict[int, Mine] = {}
        self.tags: dict[str, int] = {}  # name -> id: every live tag of this run
        self.deleted: set[int] = set()
        self.stale: list[int] = []  # deleted, yet still there
        self.asked_unknown = False

    def owned(self, rule_id: str, ok: bool, message: str, response=None) -> bool:
        """``ok`` judged on ``rule_id`` if the check owns it, else a setup step of that rule."""
        if ok:
            return True
        if rule_id in self.owns:
            if response is not None:
                judged(response)
            raise AssertionError(f"{message} ({rule_id})")  # the model is off: stop this run here
        raise NotExercised(rule_id, message, getattr(response, "request", None))

    def name_of(self, word: str) -> str:
        return f"{self.home}-{word}"

    def pick(self, n: int) -> Mine:
        return self.images[sorted(self.images)[n % len(self.images)]]

    def learn_tags(self, record: dict, names: list[str]) -> None:
        """TIM-08: tags named at creation are created if new, reused (same id) if they exist."""
        got_ = {t["name"]: t["id"] for t in record["tags"]}
        self.owned(
            "TIM-08",
            sorted(got_) == sorted(names) and len(record["tags"]) == len(names),
            f"record {record['id']}: tags {record['tags']}, not {sorted(names)}",
        )
        for name, tag_id in got_.items():
            if name in self.tags:
                self.owned(
                    "TIM-08",
                    tag_id == self.tags[name],
                    f"tag {name!r} exists with id {self.tags[name]}; a new record got it as id {tag_id} "
                    f"(existing tags are reused)",
                )
            else:
                others = {v: k for k, v in self.tags.items()}
                self.owned(
                    "TIM-08",
                    tag_id not in others,
                    f"new tag {name!r} got id {tag_id}, the id of tag {others.get(tag_id)!r}",
                )
                self.tags[name] = tag_id

    def create(self, words, size=None, image=None) -> tuple[Mine, dict, object]:
        """A record as the seed's fullest example makes it; returns the model, the record and the create's
        response. The create is judged where the machine owns it (TIM-01 / TIM-03), else a setup step."""
        sent_create = self.send_create(words, size, image, pending=())
        r, created = sent_create[2], sent_create[3]
        record = (
            fetched(self.http, created["id"]) if "TIM-06" not in self.owns else self.get_record(created["id"])
        )
        return self.remember(sent_create, record, image), record, r

    def send_create(self, words, size, image, pending) -> tuple[str, list[str], object, dict]:
        """The create's request, judged; ``pending`` are the ids created but not yet remembered, which the
        new id must not repeat either. Returns (filename, tag names, response, {id, upload_url})."""
        names = [self.home, *(self.name_of(w) for w in words)]
        filename = self.target.unique("f") + ".img"
        if image is None:
            body = create_body(filename, names, 4096 if size is None else size)
            r = self.http.post("/images", json=body)
            owner = "TIM-01"
        else:
            r = self.http.post("/upload", json=upload_body(image[0], filename, names))
            owner = "TIM-03"
        ok = r.status_code == 201 if owner in self.owns else 200 <= r.status_code < 300  # a setup: any 2xx
        self.owned(
            owner, ok, f"{sent(r)}: expected {201 if owner in self.owns else 'a 2xx'}, got {got(r)}", r
        )
        created = created_id(r, owner)
        self.owned(
            owner,
            created["id"] not in self.images
            and created["id"] not in self.deleted
            and created["id"] not in pending,
            f"{sent(r)}: id {created['id']} was given to an earlier record",
            r,
        )
        return filename, names, r, created

    def remember(self, sent_create, record: dict, image) -> Mine:
        """The model learns a created record from its read-back."""
        filename, names, _, created = sent_create
        self.learn_tags(record, names)
        mine = Mine(record["id"], filename, names, record["created_timestamp"], created.get("upload_url"))
        self.images[mine.id] = mine
        if image is not None:
            mine.data = image[0]
        return mine

    def get_record(self, image_id: int) -> dict:
        r = self.http.get(f"/images/{image_id}")
        self.owned("TIM-06", r.status_code == 200, f"{sent(r)}: expected 200, got {got(r)}", r)
        record = body_of(r)
        problems = record_problems(record)
        for problem in problems:
            self.owned(owner_of(problem), False, f"{sent(r)}: {problem}", r)
        self.owned(
            "TIM-06", record.get("id") == image_id, f"{sent(r)} returned the record {record.get('id')!r}", r
        )
        return record

    def teardown(self):
        """The run's records and tags go at once (no delete depends on another), while the next run
        begins: every run keeps to records and tags of its own (its home tag), so none judges them."""
        self.sweeper.sweep(
            [lambda i=i: self.http.delete(f"/images/{i}") for i in [*self.images, *self.stale]]
            + [lambda t=t: self.http.delete(f"/tags/{t}") for t in self.tags.values()]
        )

    # -- what the model expects of a listing -----------------------------------------------------------
    def expected(self, keep, start=None, end=None, uploaded_only=False) -> set[int]:
        return {
            m.id
            for m in self.images.values()
            if keep(m)
            and (start is None or m.created >= start)
            and (end is None or m.created <= end)
            and (not uploaded_only or m.data is not None)
        }

    def stamp(self, n):
        stamps = sorted({m.created for m in self.images.values()})
        return None if n is None or not stamps else stamps[n % len(stamps)]

    def compare(self, path, params, limit, expected: set[int], rule_id: str, decision=None) -> None:
        """The listing pages exactly ``expected``, newest first: judged on ``rule_id`` (a SHOULD when a
        ``decision`` is named)."""
        records, problem, response = pages(self.http, path, params, limit, len(expected) // limit + 3)
        got_ = [r["id"] for r in records]
        ghosts = sorted(set(got_) & self.deleted)
        if ghosts:
            raise NotExercised("TIM-07", f"GET {path} {params} lists the deleted records {ghosts}")
        if problem is not None:
            if decision is None:
                judged(response)
                raise AssertionError(f"{problem} ({rule_id})")
            should(self.target, False, problem, rule=rule_id, response=response, decision=decision)
            return
        if set(got_) != expected or len(got_) != len(expected):
            problem = f"GET {path} {params}: expected the records {sorted(expected)}, got {got_}"
        problem = problem or newest_first_problem(records)
        for r in records:
            if r["created_timestamp"] != self.images[r["id"]].created:
                problem = problem or f"GET {path} {params}: record {r['id']}'s created_timestamp changed"
        if decision is None:
            assert problem is None, f"{problem} ({rule_id})"
        else:
            should(self.target, problem is None, str(problem), rule=rule_id, decision=decision)


FILTERS = {
    "limit": st.sampled_from([1, 2, 3, 100]),
    "start": st.none() | st.integers(0, 50),
    "end": st.none() | st.integers(0, 50),
    "uploaded_only": st.booleans(),
}


ENTRY = st.tuples(st.lists(st.sampled_from(WORDS), max_size=3, unique=True), st.booleans())


class QueryMachine(TaggedMachine):
    """For the listing machines: records come in batches (a few at the start, one or two per step, some
    uploaded), so most steps go to the queries and their deletes."""

    def add_batch(self, batch):
        """The creates go one after another (a tag new to the run is created by one request, never by two
        at once); their read-backs go together once all have answered, and the model learns each record in
        the order it was created, as from one create and read at a time, in fewer round trips."""
        made = []
        for words, upload in batch:
            image = (photo(len(self.images) + len(made) + 100, "PNG", 24), MIME["PNG"]) if upload else None
            pending = {m[0][3]["id"] for m in made}
            made.append((self.send_create(words, None, image, pending), image))
        answers = parallel([lambda c=c: self.http.get(f"/images/{c[3]['id']}") for c, _ in made])
        for (sent_create, image), answer in zip(made, answers, strict=True):
            self.remember(sent_create, fetched_from(answer, sent_create[3]["id"]), image)

    @initialize(batch=st.lists(ENTRY, min_size=2, max_size=5))
    def start(self, batch):
        self.add_batch(batch)

    @rule(batch=st.lists(ENTRY, min_size=1, max_size=2))
    def grow(self, batch):
        self.add_batch(batch)

    @precondition(lambda self: self.images)
    @rule(n=st.integers(0, 100))
    def delete_record(self, n):
        mine = self.pick(n)
        r = self.http.delete(f"/images/{mine.id}")
        self.owned("TIM-07", 200 <= r.status_code < 300, f"{sent(r)} answered {got(r)}", r)
        del self.images[mine.id]
        self.deleted.add(mine.id)


def filter_params(start, end, uploaded_only) -> dict:
    params: dict = {}
    if start is not None:
        params["start_timestamp"] = start
    if end is not None:
        params["end_timestamp"] = end
    if uploaded_only:
        params["uploaded_only"] = "true"
    return params


class RecordsMachine(TaggedMachine):
    """TIM-01/02/03/06/07: create, upload, PUT, get and delete records."""

    owns = ("TIM-01", "TIM-02", "TIM-03", "TIM-06", "TIM-07")

    @rule(
        words=st.lists(st.sampled_from(WORDS), max_size=3, unique=True),
        size=st.none() | st.integers(0, 10**6),
    )
    def create_record(self, words, size):
        mine, record, _ = self.create(words, size=size)
        assert record.get("filename") == mine.filename, (
            f"GET /images/{mine.id}: filename {record.get('filename')!r}, sent {mine.filename!r} (TIM-01)"
        )
        self.owned(
            "TIM-01", isinstance(mine.upload_url, str), f"POST /images gave no upload_url for {mine.id}"
        )
        assert record.get("uploaded_timestamp") is None and record.get("url") is None, (
            f"GET /images/{mine.id} before any upload: "
            f"uploaded_timestamp {record.get('uploaded_timestamp')!r} and url {record.get('url')!r}, "
            "not null (TIM-01)"
        )

    @rule(words=st.lists(st.sampled_from(WORDS), max_size=2, unique=True), image=images(max_side=24))
    def upload(self, words, image):
        mine, record, _ = self.create(words, image=image)
        assert record.get("size") == len(image[0]), (
            f"GET /images/{mine.id} after POST /upload of {len(image[0])} bytes: size {record.get('size')!r} "
            f"(TIM-03)"
        )
        judge_uploaded_file(self.raw, record, image[0], "TIM-03")

    @precondition(lambda self: any(m.data is None and m.upload_url for m in self.images.values()))
    @rule(n=st.integers(0, 100), image=images(max_side=24))
    def put(self, n, image):
        """TIM-02: a PUT of the bytes to upload_url uploads the file."""
        waiting = [m for m in self.images.values() if m.data is None and m.upload_url]
        mine = waiting[n % len(waiting)]
        data, mime = image
        r = put_file(self.raw, mine.upload_url, data, mime)
        assert 200 <= r.status_code < 300, (
            f"PUT of {len(data)} bytes to upload_url: answered {got(r)} (TIM-02)"
        )
        mine.data = data
        judge_uploaded_file(self.raw, self.get_record(mine.id), data, "TIM-02")

    @precondition(lambda self: self.images)
    @rule(n=st.integers(0, 100))
    def get(self, n):
        mine = self.pick(n)
        record = self.get_record(mine.id)
        assert record.get("filename") == mine.filename, (
            f"GET /images/{mine.id}: filename {record.get('filename')!r}, sent {mine.filename!r} (TIM-06)"
        )
        assert sorted(tag_names(record)) == sorted(mine.tags), (
            f"GET /images/{mine.id}: tags {record.get('tags')}, expected {sorted(mine.tags)} (TIM-06)"
        )
        if mine.data is None:
            assert record.get("uploaded_timestamp") is None and record.get("url") is None, (
                f"GET /images/{mine.id} without its file: "
                f"uploaded_timestamp {record.get('uploaded_timestamp')!r}"
                f", url {record.get('url')!r}, expected both null (TIM-01)"
            )
        else:
            judge_uploaded_file(self.raw, record, mine.data, "TIM-02")

    @precondition(lambda self: self.images)
    @rule(n=st.integers(0, 100))
    def delete(self, n):
        """TIM-07: 204, then gone from get (a 4xx; SHOULD 404). Listings: check_tim07_deleted_record_…"""
        mine = self.pick(n)
        r = self.http.delete(f"/images/{mine.id}")
        check(r.status_code == 204, f"{sent(r)}: expected 204, got {got(r)}", rule="TIM-07", response=r)
        del self.images[mine.id]
        self.deleted.add(mine.id)
        after = self.http.get(f"/images/{mine.id}")
        if not refused(
            after,
            f"{sent(after)} after its delete",
            rule="TIM-07",
            should_status=404,
            decision=UNKNOWN_ID_404,
        ):
            self.stale.append(mine.id)  # still there: deleted again at the end

    @invariant()
    def unknown_id_is_refused(self):
        """Once a run, with records on the server: the same unknown id asked again proves nothing new."""
        if len(self.images) % 5 == 2 and not self.asked_unknown:
            self.asked_unknown = True
            r = self.http.get(f"/images/{MISSING_ID}")
            refused(
                r, f"{sent(r)} (an unknown id)", rule="TIM-06", should_status=404, decision=UNKNOWN_ID_404
            )


class TagsMachine(QueryMachine):
    """TIM-08..11: tags named at creation, POST /tags, DELETE /tags/{id}, GET /tags/{id}/images."""

    owns = ("TIM-08", "TIM-09", "TIM-10", "TIM-11")

    @rule(word=st.sampled_from(WORDS))
    def create_tag(self, word):
        """TIM-09: 201 with the tag's id (a name that exists is check_tim09's: the seed is silent on it)."""
        name = self.name_of(word)
        if name in self.tags:
            return
        r = self.http.post("/tags", json={"name": name})
        assert r.status_code == 201, f"{sent(r)} {{name: {name!r}}}: expected 201, got {got(r)} (TIM-09)"
        body = body_of(r)
        assert isinstance(body, dict) and is_int(body.get("id")), (
            f"{sent(r)}: no integer id in {body!r} (TIM-09)"
        )
        assert body["id"] not in self.tags.values(), f"{sent(r)}: id {body['id']} is another tag's (TIM-09)"
        self.tags[name] = body["id"]

    @precondition(lambda self: len(self.tags) > 1)
    @rule(n=st.integers(0, 100))
    def delete_tag(self, n):
        """TIM-11: 204; the images stay and no longer carry the tag."""
        names = sorted(name for name in self.tags if name != self.home)
        name = names[n % len(names)]
        tag_id = self.tags.pop(name)
        r = self.http.delete(f"/tags/{tag_id}")
        check(r.status_code == 204, f"{sent(r)}: expected 204, got {got(r)}", rule="TIM-11", response=r)
        carriers = [m for m in self.images.values() if name in m.tags]
        answers = parallel([lambda m=m: self.http.get(f"/images/{m.id}") for m in carriers])
        for mine, after in zip(carriers, answers, strict=True):
            mine.tags.remove(name)
            assert after.status_code == 200, (
                f"{sent(after)} after DELETE /tags/{tag_id} ({name!r}): {got(after)}: the image went too "
                "(TIM-11)"
            )
            carried = tag_names(record_of(after))
            assert sorted(carried) == sorted(mine.tags), (
                f"{sent(after)} after DELETE /tags/{tag_id} ({name!r}): tags {carried}, expected "
                f"{sorted(mine.tags)} (TIM-11)"
            )

    @precondition(lambda self: self.tags)
    @rule(n=st.integers(0, 100), **FILTERS)
    def browse_tag(self, n, limit, start, end, uploaded_only):
        """TIM-10: GET /tags/{id}/images lists exactly the images carrying the tag, newest first. The seed
        gives it no parameters: the first page without any is the MUST, paging and filters SHOULD."""
        name = sorted(self.tags)[n % len(self.tags)]
        path = f"/tags/{self.tags[name]}/images"
        expected = self.expected(lambda m: name in m.tags)
        if n % 2 == 0:
            self.first_page(path, expected)
            return
        start, end = self.stamp(start), self.stamp(end)
        expected = self.expected(lambda m: name in m.tags, start, end, uploaded_only)
        params = filter_params(start, end, uploaded_only)
        self.compare(path, params, limit, expected, "TIM-10", decision=TAG_PAGING)

    def first_page(self, path: str, expected: set[int]) -> None:
        r = self.http.get(path)
        assert r.status_code == 200, f"{sent(r)}: expected 200, got {got(r)} (TIM-10)"
        body = body_of(r)
        results = body.get("results") if isinstance(body, dict) else None
        assert isinstance(results, list), f"{sent(r)}: no results list in {r.text[:200]} (TIM-10)"
        ids = [x.get("id") for x in results if isinstance(x, dict)]
        ghosts = sorted(set(ids) & self.deleted)
        if ghosts:
            raise NotExercised("TIM-07", f"{sent(r)} lists the deleted records {ghosts}", r.request)
        assert set(ids) <= expected and len(ids) == len(set(ids)), (
            f"{sent(r)}: lists {ids}; the tag's images are {sorted(expected)} (TIM-10)"
        )
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        complete = not meta.get("has_more_pages")  # a server may page by its own default size
        assert not complete or set(ids) == expected, (
            f"{sent(r)}: lists {sorted(ids)} and no more pages; the tag's images are {sorted(expected)} "
            "(TIM-10)"
        )
        problem = newest_first_problem([x for x in results if isinstance(x, dict)])
        assert problem is None, f"{sent(r)}: {problem} (TIM-10)"


@st.composite
def patterns(draw):
    """A match_tags pattern for one of WORDS: the case changed, parts replaced by %; it keeps the run's
    unique part literally (the caller prefixes it), so only this run's tags can match."""
    word = draw(st.sampled_from(WORDS))
    word = draw(st.sampled_from([str, str.upper, str.lower, str.swapcase]))(word)
    if draw(st.booleans()):
        i = draw(st.integers(0, len(word)))
        j = draw(st.integers(i, len(word)))
        word = word[:i] + "%" + word[j:]
    return word


class SearchMachine(QueryMachine):
    """TIM-12: exact_tags (case-sensitive, all present) and match_tags (any case, % wildcard, each
    pattern matching some tag), with the date range, uploaded_only and paging. Every search carries both
    parameters, as the seed requires: the other one is the run's home tag (every record carries it), so
    each filter is tested alone, and both at once (AND) in ``search_both``."""

    owns = ("TIM-12",)

    def exact(self, words, case, home):
        names = [self.name_of(case(w)) for w in words] + ([self.home] if home else [])
        return names, (lambda m: all(n in m.tags for n in names))

    def matching(self, found, prefix):
        unique = self.home.rsplit("-", 1)[1]
        lead = {"home": self.home, "upper": self.home.upper(), "wild": "%" + unique}[prefix]
        wanted = [f"{lead}-{p}" for p in found]
        return wanted, (lambda m: all(any(like(p, t) for t in m.tags) for p in wanted))

    def search(self, exact, match, keep, limit, start, end, uploaded_only):
        start, end = self.stamp(start), self.stamp(end)
        expected = self.expected(keep, start, end, uploaded_only)
        params = {
            "exact_tags": "|".join(exact),
            "match_tags": "|".join(match),
            **filter_params(start, end, uploaded_only),
        }
        self.compare("/search/images", params, limit, expected, "TIM-12")

    @rule(
        words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True),
        case=st.sampled_from([str, str.swapcase]),
        home=st.booleans(),
        **FILTERS,
    )
    def search_exact(self, words, case, home, limit, start, end, uploaded_only):
        names, keep = self.exact(words, case, home)
        self.search(names, [self.home.upper()], keep, limit, start, end, uploaded_only)

    @rule(
        found=st.lists(patterns(), min_size=1, max_size=2),
        prefix=st.sampled_from(["home", "upper", "wild"]),
        **FILTERS,
    )
    def search_match(self, found, prefix, limit, start, end, uploaded_only):
        wanted, keep = self.matching(found, prefix)
        self.search([self.home], wanted, keep, limit, start, end, uploaded_only)

    @rule(
        words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=1),
        found=st.lists(patterns(), min_size=1, max_size=1),
        **FILTERS,
    )
    def search_both(self, words, found, limit, start, end, uploaded_only):
        names, exact = self.exact(words, str, False)
        wanted, match = self.matching(found, "upper")
        self.search(names, wanted, lambda m: exact(m) and match(m), limit, start, end, uploaded_only)


class Sweeper:
    """Deletes a finished run's records and tags in the background, so the next run does not wait for
    them (a round trip or more each run, against a remote server); all are done before the check ends,
    and a delete that raised raises there, as it would have in the run's own teardown."""

    def __init__(self, pool: ThreadPoolExecutor):
        self._pool = pool
        self._sweeps: list[Future] = []

    def sweep(self, deletes) -> None:
        self._sweeps.append(self._pool.submit(parallel, deletes))

    def finish(self, raising: bool = True) -> None:
        for sweep in self._sweeps:
            if sweep.exception() is not None and raising:
                raise sweep.exception()


def run_machine(machine, target, http, raw, hypothesis_settings):
    """Without shrinking: the server's state and clock are outside Hypothesis, so a replay of a shorter run
    meets another server (a failure that rests on two records' seconds may not recur); Hypothesis would
    report that as a flaky test, blamed on no rule, instead of the first failure with its request."""
    phases = [p for p in hypothesis_settings.phases if p != Phase.shrink]
    with ThreadPoolExecutor(max_workers=2) as pool:
        sweeper = Sweeper(pool)
        try:
            run_state_machine_as_test(
                lambda: machine(target, http, raw, sweeper),
                settings=settings(hypothesis_settings, phases=phases),
            )
        except BaseException:
            sweeper.finish(raising=False)  # the run's own failure is the one to report
            raise
        sweeper.finish()


@pytest.mark.writes
@pytest.mark.rule("TIM-01", "TIM-02", "TIM-03", "TIM-06", "TIM-07")
def check_tim_records_state_machine(target, http, raw, hypothesis_settings):
    run_machine(RecordsMachine, target, http, raw, hypothesis_settings)


@pytest.mark.writes
@pytest.mark.rule("TIM-08", "TIM-09", "TIM-10", "TIM-11")
def check_tim_tags_state_machine(target, http, raw, hypothesis_settings):
    run_machine(TagsMachine, target, http, raw, hypothesis_settings)


@pytest.mark.writes
@pytest.mark.rule("TIM-12")
def check_tim_search_state_machine(target, http, raw, hypothesis_settings):
    run_machine(SearchMachine, target, http, raw, hypothesis_settings)
