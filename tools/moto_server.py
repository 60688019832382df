"""moto's server mode, with the one Cognito operation the function calls that moto lacks, and
federated users' profiles, which moto cannot make.

moto answers `RevokeToken` with a 500 (see ../shared/MOTO.md). Cognito answers 200 and the refresh
token stops working; it refuses a token of another app client, a missing or wrong client secret,
and a client with token revocation turned off. This wrapper adds that behaviour to moto's own
Cognito model and then runs `moto_server` with the same arguments.

Federated profiles (status EXTERNAL_PROVIDER) are made by Cognito when someone signs in through a
third-party identity provider, under a username `<ProviderName>_<id>`; moto has no such sign-in.
Test fixture: `AdminCreateUser` of a username `<ProviderName>_<anything>`, where `<ProviderName>`
is an identity provider of the pool (`CreateIdentityProvider`), makes such a profile: status
EXTERNAL_PROVIDER and an `identities` attribute. `AdminSetUserPassword` then makes it CONFIRMED,
as Cognito does.
"""

import json
import sys

from moto.cognitoidp import models
from moto.cognitoidp.exceptions import NotAuthorizedError
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.exceptions import JsonRESTError
from moto.server import main


def _pool_holding(client_id):
    """The user pool, in any account or region, that owns the app client `client_id`."""
    for backends in models.cognitoidp_backends.values():
        for region, backend in backends.items():
            if region == "global":
                continue
            for pool in backend.user_pools.values():
                if client_id in pool.clients:
                    return pool
    return None


def revoke_token(self):
    # RevokeToken needs no signature, so the request's region says nothing: look the client up.
    token = self._get_param("Token")
    client_id = self._get_param("ClientId")
    client_secret = self._get_param("ClientSecret")
    pool = _pool_holding(client_id)
    if pool is None:
        raise JsonRESTError("ResourceNotFoundException", f"client {client_id} does not exist")
    client = pool.clients[client_id]
    if client.generate_secret and client_secret != client.secret:
        raise NotAuthorizedError("Client secret is missing or does not match the client")
    if not client.extended_config.get("EnableTokenRevocation", True):
        raise JsonRESTError("UnsupportedOperationException", "Token revocation is not enabled for this client")
    held = pool.refresh_tokens.get(token)
    if held is None or held[0] != client_id:
        raise JsonRESTError("UnsupportedTokenTypeException", "The token is not a refresh token of this client")
    pool.refresh_tokens[token] = None
    return "{}"


CognitoIdpResponse.revoke_token = revoke_token

_admin_create_user = models.CognitoIdpBackend.admin_create_user


def admin_create_user(self, user_pool_id, username, *args, **kwargs):
    user = _admin_create_user(self, user_pool_id, username, *args, **kwargs)
    provider, _, provider_user = username.partition("_")
    if provider_user and provider in self.describe_user_pool(user_pool_id).identity_providers:
        user.status = "EXTERNAL_PROVIDER"
        identities = [{"userId": provider_user, "providerName": provider, "providerType": "OIDC",
                       "primary": True, "dateCreated": 0}]
        user.attributes.append({"Name": "identities", "Value": json.dumps(identities)})
    return user


models.CognitoIdpBackend.admin_create_user = admin_create_user

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(main())
