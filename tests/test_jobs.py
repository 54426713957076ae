"""Training that outlives the page (ui.jobs) and sessions that outlive a page load (ui.sessions)."""
import os
import sys
import threading
import time
from types import SimpleNamespace

import pytest

import ui.jobs as jobs
import ui.sessions as sessions
from ui.jobs import Job, queue_job


def event(kind, step=0):
    return SimpleNamespace(kind=kind, step=step)


def wait_until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_job_trains_in_its_own_thread_and_followers_see_its_events_and_its_end():
    release = threading.Event()

    def work(job):
        job.publish(event("start"), name="run #1")
        release.wait(5)
        for step in range(1, 6):
            job.publish(event("step", step))
        job.publish(event("end", 5))

    job = queue_job(Job("train", work))
    wait_until(lambda: "start" in job.latest)
    assert job.thread is not threading.current_thread() and not job.done and job.view["name"] == "run #1"
    follower = job.follow(every_s=0.0)
    assert next(follower) is job  # at once, however the job is doing
    release.set()
    seen = [j.latest["last"].kind for j in follower]
    assert seen[-1] == "end" and job.done and job.error is None
    assert job.latest["step"].step == 5


def test_routine_events_are_thinned_the_end_shows_at_once():
    gate = threading.Event()

    def work(job):
        gate.wait(5)
        for step in range(200):
            job.publish(event("step", step))
        job.publish(event("end"))

    job = queue_job(Job("train", work))
    wait_until(lambda: not job.waiting)
    follower = job.follow(every_s=30)
    next(follower)
    gate.set()
    started = time.monotonic()
    redraws = [j.latest["last"].kind for j in follower]
    assert time.monotonic() - started < 5  # the end did not wait out the 30 s of the throttle
    assert len(redraws) <= 3 and redraws[-1] == "end"


def test_errors_end_the_job_with_a_message_for_the_page():
    job = queue_job(Job("train", lambda job: (_ for _ in ()).throw(ValueError("mnist is not available: put it in ./data"))))
    wait_until(lambda: job.done)
    assert job.error == "mnist is not available: put it in ./data"
    with pytest.raises(Exception, match="put it in ./data"):
        jobs.raise_error(job)
    bug = queue_job(Job("train", lambda job: 1 / 0))
    wait_until(lambda: bug.done)
    assert "internal error (ZeroDivisionError)" in bug.error


def test_jobs_beyond_the_training_slots_wait_and_say_so(monkeypatch):
    monkeypatch.setattr(jobs, "TRAIN_SLOTS", threading.BoundedSemaphore(1))
    release = threading.Event()
    first = queue_job(Job("train", lambda job: release.wait(5)))
    wait_until(lambda: not first.waiting)
    second = queue_job(Job("train", lambda job: None))
    time.sleep(0.1)
    assert second.waiting and jobs.waiting_jobs() == 1 and not second.done
    monkeypatch.setattr(jobs, "MAX_WAITING", 1)
    with pytest.raises(Exception, match="1 runs are waiting"):
        queue_job(Job("train", lambda job: None))
    release.set()
    wait_until(lambda: second.done)
    assert jobs.waiting_jobs() == 0


# --- sessions that belong to the browser ----------------------------------------------------------


def page(name):
    return SimpleNamespace(session_hash=name)


def test_a_reloaded_page_joins_the_same_session_and_a_leaving_page_deletes_nothing(monkeypatch):
    key = "k" * 32  # what IDENTITY_JS keeps in the browser
    assert sessions.attach_page(key, page("load-1")) == key
    first = sessions.session_for(page("load-1"))
    first.runs["run #1"] = sessions.Run(name="run #1", config={})
    sessions.detach_page(page("load-1"))  # the reload: the heartbeat of the first load dropped
    assert first.folder.exists() and first.detached_at is not None
    assert sessions.attach_page(key, page("load-2")) == key
    again = sessions.session_for(page("load-2"))
    assert again is first and "run #1" in again.runs and again.detached_at is None
    # a key that is not one of ours is not trusted: the page gets a new session
    forged = sessions.attach_page("../../etc/passwd", page("load-3"))
    assert forged != key and sessions.session_for(page("load-3")) is not first


def test_a_session_is_removed_a_grace_period_after_its_last_page_left_unless_it_trains(monkeypatch):
    key = sessions.attach_page(None, page("gone-1"))
    left = sessions.session_for(page("gone-1"))
    busy_key = sessions.attach_page(None, page("gone-2"))
    training = sessions.session_for(page("gone-2"))
    training.job = SimpleNamespace(done=False)  # a run in progress
    sessions.detach_page(page("gone-1"))
    sessions.detach_page(page("gone-2"))
    monkeypatch.setattr(sessions, "GRACE_S", 0.0)
    time.sleep(0.01)
    sessions.session_for(page("someone else"))  # any request tidies up
    assert key not in sessions._sessions and not left.folder.exists()
    assert sessions._sessions.get(busy_key) is training and training.folder.exists()
    training.job = None


def test_page_stops_stop_only_their_own_pages_request():
    stops = sessions.PageStops()
    mine, other = sessions.session_for(page("stops-1")), sessions.session_for(page("stops-2"))
    running, theirs = stops.start(mine), stops.start(other)
    assert stops.stop(mine) and running.is_set() and not theirs.is_set()
    again = stops.start(mine)  # a new request of the same page gets a fresh Stop
    stops.done(mine, running)  # the old request ending does not forget the new one
    assert not again.is_set() and stops.stop(mine) and again.is_set()
    stops.done(mine, again)
    assert not stops.stop(mine)  # nothing of that page runs any more


def thread_nice(native_id: int) -> int:
    """A thread's Linux nice value, from /proc (field 19 of its stat line)."""
    fields = open(f"/proc/self/task/{native_id}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[16])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_a_training_job_computes_at_a_lower_priority_than_the_pages_and_a_replay_does_not():
    seen = {}

    def work(job):
        seen[job.kind] = thread_nice(threading.get_native_id())

    pages = os.getpriority(os.PRIO_PROCESS, 0)
    for job in (queue_job(Job("train", work)), queue_job(Job("replay", work, needs_slot=False))):
        job.thread.join(10)
    assert seen["train"] == min(19, pages + jobs.TRAIN_NICE) and jobs.TRAIN_NICE > 0
    assert seen["replay"] == pages  # a replay trains nothing: it draws for the page at the page's priority
    assert thread_nice(threading.get_native_id()) == pages  # the pages' threads keep theirs


def test_a_streamed_experiment_outlives_its_page_and_a_page_that_comes_back_gets_all_of_it():
    # ui.jobs.stream_job: the Experiments tab's landscape, race and degradation runs.
    import gradio as gr

    session = sessions._session("stream-test")
    gate = threading.Event()

    def steps():
        yield "starting", "figure 1", None
        gate.wait(5)
        for k in range(50):  # many quick updates: a follower sees them thinned, never loses the last
            yield f"step {k}", gr.skip(), gr.skip()
        yield "done", "figure 2", "table"

    page = jobs.stream_job(session, "race", steps(), 3)
    assert next(page) == ("starting", "figure 1", None)  # at once
    with pytest.raises(gr.Error, match="already running"):  # one of a kind at a time
        next(jobs.stream_job(session, "race", iter(()), 3))
    page.close()  # the page went away (a reload): the job goes on
    gate.set()
    wait_until(lambda: session.side_jobs["race"].done)
    assert list(jobs.rejoin_stream(session, "race", 3)) == [("done", "figure 2", "table")]  # everything, once
    fresh = list(jobs.follow_stream(session, "race", 3))
    assert fresh[-1] == ("done", "figure 2", "table")


def test_a_streamed_experiments_error_is_a_popup_for_its_page_and_a_status_line_after_a_reload():
    import gradio as gr

    session = sessions._session("stream-error-test")

    def steps():
        yield "starting", None
        raise ValueError("the dataset <b> is missing: put it in ./data")

    with pytest.raises(gr.Error, match="the dataset &lt;b&gt; is missing"):
        list(jobs.stream_job(session, "landscape", steps(), 2))
    (status, other), = jobs.rejoin_stream(session, "landscape", 2)
    assert status == "It ended with an error: the dataset &lt;b&gt; is missing: put it in ./data"
    assert other == gr.skip() and list(jobs.rejoin_stream(session, "degradation", 2)) == [(gr.skip(), gr.skip())]
