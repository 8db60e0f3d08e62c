"""OpenAPI descriptions of the two authentication schemes (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class SessionJWTScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.SessionJWTAuthentication"
    name = "jwt"

    def get_security_definition(self, auto_schema: object) -> dict:
        scheme = "Bearer"  # the HTTP auth scheme's name, not a secret
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=scheme, bearer_format="JWT"
        )


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A client API key (pp_live_…), as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
        }
