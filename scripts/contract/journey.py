"""One cart-to-order journey through a client generated from the served
contract (openapi-python-client), as a storefront team would write it:
customer, cart lines, pickup, checkout with If-Match, then the order.

    python journey.py BASE_URL STOREFRONT_KEY

Runs against `serve --demo`; scripts/contract-test generates the client and
runs this before fuzzing, so a contract no generator can use fails the suite.
"""

import sys
import uuid

from omnistock_client import AuthenticatedClient
from omnistock_client.api.availability import get_availability
from omnistock_client.api.carts import add_line, set_fulfilment
from omnistock_client.api.customers import create_customer
from omnistock_client.api.orders import checkout, get_order
from omnistock_client.models import (
    AddLineRequest,
    AvailabilityResponse,
    CartResponse,
    CheckoutRequest,
    CustomerResponse,
    FulfilmentRequestType1,
    MoneyInputType0,
    NewCustomerRequest,
    OrderResponse,
    PaymentRequest,
)


def expect(response, kind, status):
    if response.status_code != status or not isinstance(response.parsed, kind):
        sys.exit(f"expected {status} {kind.__name__}, got {response.status_code}: {response.content[:500]!r}")
    return response.parsed


def main(base, key):
    client = AuthenticatedClient(base_url=base, token=key, raise_on_unexpected_status=True)
    ref = f"journey-{uuid.uuid4().hex[:12]}"
    store = "BER-MITTE"

    expect(
        create_customer.sync_detailed(
            client=client,
            body=NewCustomerRequest(external_ref=ref, name="Journey Test", email=f"{ref}@example.com"),
            idempotency_key=uuid.uuid4().hex,
        ),
        CustomerResponse,
        201,
    )
    availability = expect(get_availability.sync_detailed(client=client, sku=["OAT-MILK-1L"]), AvailabilityResponse, 200)
    print(f"availability of OAT-MILK-1L: {availability.to_dict()}")

    cart = expect(
        add_line.sync_detailed(ref, client=client, body=AddLineRequest(sku="OAT-MILK-1L", quantity=2)),
        CartResponse,
        200,
    )
    cart = expect(
        set_fulfilment.sync_detailed(
            ref,
            client=client,
            body=FulfilmentRequestType1(method="pickup", location=store),
            if_match=f'"{cart.version}"',
        ),
        CartResponse,
        200,
    )
    total = cart.totals.total
    print(f"cart {cart.id} v{cart.version}: {len(cart.lines)} line(s), total {total.amount} {total.currency}")

    order = expect(
        checkout.sync_detailed(
            ref,
            client=client,
            body=CheckoutRequest(
                payment=PaymentRequest(
                    amount=MoneyInputType0(amount=total.amount, currency=total.currency),
                    reference=f"psp-{uuid.uuid4().hex[:8]}",
                )
            ),
            if_match=f'"{cart.version}"',
            idempotency_key=uuid.uuid4().hex,
        ),
        OrderResponse,
        201,
    )
    order = expect(get_order.sync_detailed(order.id, client=client), OrderResponse, 200)
    methods = [f.method for f in order.fulfilments]
    print(f"order {order.number} ({order.id}): {order.status}, channel {order.channel}, fulfilment {methods}")
    if not order.fulfilments:
        sys.exit("the order has no fulfilment")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
