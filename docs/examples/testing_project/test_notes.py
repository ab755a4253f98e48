from notes_service import Note
from sqlalchemy import func, select

from fastapi_pro.testing import assert_problem


async def test_a_note_is_saved_for_its_author(fastapi_client, fastapi_session, auth_headers):
    response = await fastapi_client.post(
        "/notes", json={"text": "buy milk"}, headers=auth_headers("alice")
    )
    assert response.status_code == 201
    note = await fastapi_session.get(Note, response.json()["id"])
    assert note.owner == "alice"


async def test_every_test_starts_from_an_empty_table(fastapi_session):
    assert await fastapi_session.scalar(select(func.count()).select_from(Note)) == 0


async def test_rows_the_test_commits_are_visible_to_the_app(
    fastapi_client, fastapi_session, auth_headers
):
    fastapi_session.add(Note(owner="bob", text="call alice"))
    await fastapi_session.commit()
    response = await fastapi_client.get("/notes", headers=auth_headers("bob"))
    assert [note["text"] for note in response.json()] == ["call alice"]


async def test_someone_elses_note_is_not_found(fastapi_client, fastapi_session, auth_headers):
    note = Note(owner="bob", text="private")
    fastapi_session.add(note)
    await fastapi_session.commit()
    response = await fastapi_client.get(f"/notes/{note.id}", headers=auth_headers("eve"))
    assert_problem(response, 404, code="not_found")


async def test_no_token_is_a_401(fastapi_client):
    assert_problem(await fastapi_client.get("/notes"), 401)


async def test_listing_is_one_query(fastapi_client, auth_headers, assert_max_queries):
    with assert_max_queries(1):
        await fastapi_client.get("/notes", headers=auth_headers("alice"))


async def test_requests_are_measured(fastapi_client, auth_headers, captured_metrics):
    await fastapi_client.get("/notes", headers=auth_headers("alice"))
    requests = captured_metrics.value(
        "http_server_request_duration_seconds_count", http_route="/notes"
    )
    assert requests == 1
