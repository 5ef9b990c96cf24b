"""Identity adapters: secret hashing, the local token authority and the Cognito verifier.

Nothing here touches the disk or the network at import time: the local signing key is read
or created on first use, and the Cognito JWKS comes in as a value or a callable.
"""

from smdh.adapters.identity.cognito import CognitoTokenVerifier, load_jwks_file
from smdh.adapters.identity.local_tokens import LocalTokenAuthority
from smdh.adapters.identity.passwords import ScryptHasher, Sha256SecretHasher

__all__ = [
    "CognitoTokenVerifier",
    "LocalTokenAuthority",
    "ScryptHasher",
    "Sha256SecretHasher",
    "load_jwks_file",
]
