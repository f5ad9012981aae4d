"""The API docs pages render in a real browser from the service's own assets."""


def test_each_service_documents_its_api_in_a_browser_page_without_a_cdn(embedded, page):
    requested_hosts = set()
    page.on("request", lambda request: requested_hosts.add(request.url.split("/")[2]))
    for service in ("registration", "ticketing", "checkin"):
        page.goto(f"{embedded.base_url}/api/{service}/docs")
        page.wait_for_selector(".swagger-ui .info .title")
        assert f"Loopgate {service}" in page.inner_text(".swagger-ui .info .title")
    assert requested_hosts == {embedded.base_url.split("/")[2]}
