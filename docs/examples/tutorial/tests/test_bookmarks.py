from uuid import UUID

from fastapi_pro.testing import assert_problem

from bookmarks.models import Bookmark, User


async def a_user(session, email="ann@example.com", *, is_admin=False):
    # No password: these users never log in, and hashing one takes a good part of a second.
    user = User(email=email, password_hash="!", is_admin=is_admin)
    session.add(user)
    await session.commit()
    return user


async def test_a_new_user_logs_in_and_sees_itself(fastapi_client):
    account = {"email": "ann@example.com", "password": "correct horse battery"}
    assert (await fastapi_client.post("/users", json=account)).status_code == 201

    login = {"username": account["email"], "password": account["password"]}
    tokens = (await fastapi_client.post("/auth/token", data=login)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = await fastapi_client.get("/me", headers=headers)

    assert me.json()["email"] == "ann@example.com"


async def test_an_email_registers_once(fastapi_client):
    account = {"email": "ann@example.com", "password": "correct horse battery"}
    await fastapi_client.post("/users", json=account)
    again = await fastapi_client.post("/users", json=account)
    assert_problem(again, 409, code="unique_violation", fields=["email"])


async def test_a_bookmark_is_saved_for_its_owner(fastapi_client, fastapi_session, act_as):
    ann = await a_user(fastapi_session)
    act_as(ann)
    body = {"url": "https://fastapi.tiangolo.com", "title": "FastAPI"}
    response = await fastapi_client.post("/bookmarks", json=body)
    assert response.status_code == 201
    saved = await fastapi_session.get(Bookmark, UUID(response.json()["id"]))
    assert saved.owner_id == ann.id


async def test_a_url_is_bookmarked_once(fastapi_client, fastapi_session, act_as):
    act_as(await a_user(fastapi_session))
    body = {"url": "https://fastapi.tiangolo.com", "title": "FastAPI"}
    await fastapi_client.post("/bookmarks", json=body)
    again = await fastapi_client.post("/bookmarks", json=body)
    assert_problem(again, 409, code="unique_violation")


async def test_someone_elses_bookmark_is_not_found(fastapi_client, fastapi_session, act_as):
    ann = await a_user(fastapi_session)
    bob = await a_user(fastapi_session, "bob@example.com")
    bookmark = Bookmark(owner_id=bob.id, url="https://example.com", title="Bob's")
    fastapi_session.add(bookmark)
    await fastapi_session.commit()
    act_as(ann)
    response = await fastapi_client.get(f"/bookmarks/{bookmark.id}")
    assert_problem(response, 404, code="bookmark_not_found")


async def test_bookmarks_come_in_pages_in_two_queries(
    fastapi_client, fastapi_session, auth_headers, assert_max_queries
):
    ann = await a_user(fastapi_session)
    fastapi_session.add_all(
        Bookmark(owner_id=ann.id, url=f"https://example.com/{n}", title=f"Page {n}")
        for n in range(5)
    )
    await fastapi_session.commit()
    with assert_max_queries(2):  # the user, then the page with its total
        response = await fastapi_client.get(
            "/bookmarks?limit=2&sort=title", headers=auth_headers(str(ann.id))
        )
    page = response.json()
    assert [item["title"] for item in page["items"]] == ["Page 0", "Page 1"]
    assert (page["total"], page["has_next"]) == (5, True)


async def test_the_report_is_for_admins_only(fastapi_client, fastapi_session, act_as):
    act_as(await a_user(fastapi_session))
    assert_problem(await fastapi_client.get("/admin/report"), 403, code="insufficient_scope")

    act_as(await a_user(fastapi_session, "root@example.com", is_admin=True), roles=["admin"])
    report = await fastapi_client.get("/admin/report")
    assert report.json() == {"ann@example.com": 0, "root@example.com": 0}


async def test_no_token_is_a_401(fastapi_client):
    assert_problem(await fastapi_client.get("/bookmarks"), 401)
