"""Webhook subscriptions (admin only): CRM and billing systems that hear of risky invoices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from latepay.api.auth import require
from latepay.api.schemas import SubscriptionIn, SubscriptionOut
from latepay.webhooks import list_subscriptions, subscribe, unsubscribe

# Row ids are 32-bit integers in PostgreSQL; larger ones cannot name a row.
MAX_ROW_ID = 2**31 - 1

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=[Depends(require())])


@router.post("", response_model=SubscriptionOut, status_code=status.HTTP_201_CREATED)
def create_subscription(body: SubscriptionIn, request: Request) -> SubscriptionOut:
    """Subscribe a URL to score events. The answer holds the signing secret, shown only once:
    each delivery carries ``X-Latepay-Signature: sha256=HMAC(secret, "<timestamp>.<body>")``
    and ``X-Latepay-Timestamp``."""
    made = subscribe(request.app.state.engine, body.url, events=body.events, secret=body.secret)
    return SubscriptionOut(
        id=made.id,
        url=made.url,
        events=list(made.events),
        active=True,
        created_at=made.created_at,
        secret=made.secret,
    )


@router.get("", response_model=list[SubscriptionOut])
def list_all(request: Request) -> list[SubscriptionOut]:
    return [
        SubscriptionOut(
            id=s.id, url=s.url, events=list(s.events), active=True, created_at=s.created_at
        )
        for s in list_subscriptions(request.app.state.engine)
    ]


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {}})
def remove(
    subscription_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], request: Request
) -> Response:
    """Stop a subscription; its undelivered events are cancelled."""
    unsubscribe(request.app.state.engine, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
