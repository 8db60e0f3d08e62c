"""/metrics: Prometheus text with request counts and latency, only for allowed addresses or the token."""

import pytest


def test_metrics_count_requests_by_view(client):
    client.get("/health")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    text = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert 'peerpower_http_requests_total{method="GET",status="200",view="health"}' in text
    assert 'peerpower_http_request_duration_seconds_bucket{le="0.005",method="GET",view="health"}' in text


def test_metrics_refused_to_other_addresses(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_metrics_allowed_networks(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.parametrize(("header", "status"), [("Bearer s3cret-token", 200), ("Bearer wrong", 403), ("", 403)])
def test_metrics_token(client, settings, header, status):
    settings.METRICS_TOKEN = "s3cret-token"
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=header)
    assert response.status_code == status


def test_forwarded_address_is_believed_only_behind_trusted_proxies(client, settings):
    headers = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.TRUSTED_PROXY_COUNT = 0
    assert client.get("/metrics", **headers).status_code == 403  # a client can write any X-Forwarded-For
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.get("/metrics", **headers).status_code == 200
