//! What the derived OpenAPI document cannot say by itself, said once here:
//! the rules that tie one field to another, written as JSON Schema so that
//! clients and fuzzers know them. Each rule names the validator it mirrors;
//! a rule the validators do not enforce does not belong here.

use serde_json::{Map, Value, json};

/// Applies every refinement to the generated document.
pub fn refine(doc: &mut Value) {
    headers_are_strings(doc);
    request_bodies_are_closed(doc);
    identifiers_come_from_the_path(doc);
    tie_fields_together(doc);
    add_examples(doc);
    add_links(doc);
    document_marketplace_traffic(doc);
}

/// A header is absent or a string: `Option<String>` is never `null` on the wire.
fn headers_are_strings(doc: &mut Value) {
    for operation in operations(doc) {
        let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
        for parameter in parameters.iter_mut().filter(|p| p["in"] == "header") {
            if parameter["schema"]["type"].is_array() {
                parameter["schema"]["type"] = json!("string");
            }
        }
    }
}

/// Request bodies are read with `deny_unknown_fields`: every object schema a
/// request body reaches takes no other properties.
fn request_bodies_are_closed(doc: &mut Value) {
    let mut pending: Vec<String> = operations(doc)
        .filter_map(|op| op.get("requestBody").and_then(|b| b.pointer("/content/application~1json/schema")).cloned())
        .flat_map(|schema| references(&schema))
        .collect();
    let mut closed = Vec::new();
    while let Some(name) = pending.pop() {
        if closed.contains(&name) {
            continue;
        }
        let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) else { continue };
        close_objects(schema);
        pending.extend(references(schema));
        closed.push(name);
    }
}

fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), json!(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The component names a schema refers to.
fn references(schema: &Value) -> Vec<String> {
    match schema {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, value)| match (key.as_str(), value) {
                ("$ref", Value::String(r)) => r.rsplit('/').next().map(str::to_owned).into_iter().collect(),
                _ => references(value),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(references).collect(),
        _ => Vec::new(),
    }
}

/// One body type serves create and replace (`resource_code`,
/// `CustomerRequest::into_input`): creating names the resource in the body,
/// replacing names it in the path only. Each gets its own named schema, not an
/// `allOf` over the shared one, so that client generators can merge nothing.
fn identifiers_come_from_the_path(doc: &mut Value) {
    for (create, field, schema) in [
        ("/v1/customers", "external_ref", "Reference"),
        ("/v1/locations", "code", "CodeText"),
        ("/v1/skus", "code", "CodeText"),
    ] {
        let shared = derive_body(doc, create, |body| {
            body["properties"][field] = json!({"$ref": format!("#/components/schemas/{schema}")});
            require(body, field);
        });
        // Left to the replace body: a closed object without the field forbids it.
        let properties = shared.and_then(|c| doc.pointer_mut(&format!("/components/schemas/{c}/properties")));
        if let Some(Value::Object(properties)) = properties {
            properties.remove(field);
        }
    }
    // `MarketplaceRequest::into_input`: a new marketplace needs the secret its
    // webhooks are signed with; a replace that leaves it out keeps it.
    derive_body(doc, "/v1/marketplaces", |body| {
        body["properties"]["webhook_secret"]["type"] = json!("string");
        require(body, "webhook_secret");
    });
}

/// Gives the POST body of `path` its own copy `New<Component>` of the
/// component it shares with the PUT, edited by `edit`; answers the shared
/// component's name.
fn derive_body(doc: &mut Value, path: &str, edit: impl FnOnce(&mut Value)) -> Option<String> {
    let pointer = format!("/paths/{}/post/requestBody/content/application~1json/schema/$ref", escape(path));
    let component = doc.pointer(&pointer)?.as_str()?.rsplit('/').next()?;
    let (component, name) = (component.to_owned(), format!("New{component}"));
    let mut copy = doc["components"]["schemas"][&component].clone();
    edit(&mut copy);
    doc["components"]["schemas"][&name] = copy;
    *doc.pointer_mut(&pointer)? = json!(format!("#/components/schemas/{name}"));
    Some(component)
}

fn require(schema: &mut Value, field: &str) {
    let required = schema.as_object_mut().map(|s| s.entry("required").or_insert_with(|| json!([])));
    if let Some(Value::Array(list)) = required
        && !list.iter().any(|f| f == field)
    {
        list.push(json!(field));
    }
}

/// Rules between fields of one schema, as `if`/`then`.
fn tie_fields_together(doc: &mut Value) {
    let present = |field: &str, schema: Value| json!({"required": [field], "properties": {field: schema}});
    let number = json!({"type": "number"});
    // `validate_address`: latitude and longitude go together.
    add_rules(
        doc,
        "DeliveryAddress",
        [
            json!({"if": present("latitude", number.clone()), "then": present("longitude", number.clone())}),
            json!({"if": present("longitude", number.clone()), "then": present("latitude", number.clone())}),
        ],
    );
    // `Capabilities::validate`: curbside needs pickup.
    add_rules(
        doc,
        "Capabilities",
        [json!({
            "if": present("curbside", json!({"const": true})),
            "then": present("pickup", json!({"const": true})),
        })],
    );
    // `PromotionRequest::into_draft`: a percent promotion has a percent and
    // no amount; a fixed one the other way round.
    let absent_or_null = json!({"type": "null"});
    add_rules(
        doc,
        "PromotionRequest",
        [
            json!({
                "if": present("kind", json!({"const": "percent"})),
                "then": {"required": ["percent"], "properties": {"percent": {"type": "string"}, "amount": absent_or_null}},
            }),
            json!({
                "if": present("kind", json!({"const": "fixed"})),
                "then": {"required": ["amount"], "properties": {"amount": {"type": "object"}, "percent": absent_or_null}},
            }),
        ],
    );
    // `voice::words_of` and `VoiceError::NeedsPayment`: adding and removing
    // need a phrase; checking out needs the authorised payment.
    let needs = |intents: Value, field: &str| json!({"if": present("intent", json!({"enum": intents})), "then": present(field, json!({"type": ["string", "object"]}))});
    add_rules(
        doc,
        "VoiceCommandRequest",
        [needs(json!(["add", "remove"]), "phrase"), needs(json!(["checkout"]), "payment")],
    );
    // `CartError::AddressNeedsCoordinates`: same-day delivery finds its
    // store by the address's point, so its address is a schema of its own.
    let mut same_day = doc["components"]["schemas"]["DeliveryAddress"].clone();
    if let Value::Object(schema) = &mut same_day {
        schema.remove("allOf");
        schema.insert("description".into(), json!("A delivery address with the point the storefront geocoded."));
    }
    for coordinate in ["latitude", "longitude"] {
        same_day["properties"][coordinate]["type"] = number["type"].clone();
        require(&mut same_day, coordinate);
    }
    doc["components"]["schemas"]["SameDayAddress"] = same_day;
    if let Some(variants) = doc.pointer_mut("/components/schemas/FulfilmentRequest/oneOf").and_then(Value::as_array_mut)
    {
        for variant in variants.iter_mut().filter(|v| v["properties"]["method"]["enum"][0] == "same_day") {
            variant["properties"]["address"] = json!({"$ref": "#/components/schemas/SameDayAddress"});
        }
    }
}

fn add_rules(doc: &mut Value, component: &str, rules: impl IntoIterator<Item = Value>) {
    if let Some(Value::Object(schema)) = doc.pointer_mut(&format!("/components/schemas/{component}")) {
        let all_of = schema.entry("allOf").or_insert_with(|| json!([]));
        if let Value::Array(list) = all_of {
            list.extend(rules);
        }
    }
}

/// One example body per operation that takes one, written against the demo
/// retailer (`serve --demo`) so that trying it there works.
fn add_examples(doc: &mut Value) {
    let address = json!({"recipient": "Ada Lovelace", "line1": "Torstraße 1", "city": "Berlin", "postal_code": "10119", "region": "DE-BE", "country": "DE", "latitude": 52.5291, "longitude": 13.4011});
    let payment = json!({"reference": "psp-auth-4711", "amount": {"amount": "4.58", "currency": "EUR"}});
    let location = json!({"name": "Berlin Prenzlauer Berg", "kind": "store",
        "address": {"line1": "Kastanienallee 10", "city": "Berlin", "postal_code": "10435", "region": "DE-BE", "country": "DE"},
        "latitude": 52.5386, "longitude": 13.4096, "time_zone": "Europe/Berlin",
        "opening_hours": {"mon": [{"open": "08:00", "close": "20:00"}], "sat": [{"open": "09:00", "close": "18:00"}]},
        "capabilities": {"ships": false, "pickup": true, "curbside": true, "pickup_preparation_minutes": 60, "pickup_hold_days": 3}});
    let sku = json!({"name": "Oat Milk 1 L", "gtin": "4006381333931", "price": {"amount": "2.29", "currency": "EUR"}, "spoken_names": ["oat milk", "oatly"], "tax_class": "standard"});
    let marketplace = json!({"name": "shopify-de", "kind": "shopify", "base_url": "https://example.myshopify.com", "credentials": {"access_token": "shpat_…"},
        "webhook_secret": "whsec_0123456789abcdef", "share_percent": 80, "buffer_units": 2, "rate_limit_per_sec": 2,
        "settings": {"location_id": "905684977", "country": "DE"}});
    let promotion =
        json!({"code": "WELCOME10", "name": "Welcome 10 %", "kind": "percent", "percent": "10", "channels": ["app"]});
    let with_code = |mut body: Value, field: &str, value: &str| {
        body[field] = json!(value);
        body
    };
    let examples = [
        (
            "post",
            "/v1/customers",
            json!({"external_ref": "shop-cust-1001", "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+49 30 1234567", "marketing_consent": true}),
        ),
        ("put", "/v1/customers/{ref}", json!({"name": "Ada Lovelace", "email": "ada@example.com"})),
        ("post", "/v1/customers/{ref}/cart/lines", json!({"sku": "OAT-MILK-1L", "quantity": 2})),
        ("put", "/v1/customers/{ref}/cart/lines/{sku}", json!({"quantity": 3})),
        ("post", "/v1/carts/{token}/lines", json!({"sku": "BANANAS-1KG", "quantity": 1})),
        ("put", "/v1/carts/{token}/lines/{sku}", json!({"quantity": 2})),
        (
            "put",
            "/v1/customers/{ref}/cart/fulfilment",
            json!({"method": "pickup", "location": "BER-MITTE", "curbside": false}),
        ),
        ("put", "/v1/customers/{ref}/cart/promotion", json!({"code": "WELCOME10"})),
        ("post", "/v1/customers/{ref}/cart/merge", json!({"token": "ct_4kq9ZVt0dJ2m8xYwLrP5nA1bC3eF6gH7"})),
        ("post", "/v1/customers/{ref}/cart/checkout", json!({"payment": payment})),
        ("post", "/v1/pos/checkout", json!({"customer_ref": "shop-cust-1001", "payment": payment})),
        (
            "post",
            "/v1/pos/sales",
            json!({"items": [{"sku": "4006381333931", "quantity": 2}], "payment": {"reference": "till-7-0815", "amount": {"amount": "4.58", "currency": "EUR"}}}),
        ),
        (
            "post",
            "/v1/pos/orders",
            json!({"items": [{"sku": "ESPRESSO-BEANS-1KG", "quantity": 1}], "customer_ref": "shop-cust-1001", "fulfilment": {"method": "ship", "address": address}, "payment": {"reference": "till-7-0816", "amount": {"amount": "15.99", "currency": "EUR"}}}),
        ),
        (
            "post",
            "/v1/pos/holds",
            json!({"items": [{"sku": "OAT-MILK-1L", "quantity": 1}], "customer_ref": "shop-cust-1001", "expires_in_seconds": 1800}),
        ),
        (
            "post",
            "/v1/reservations",
            json!({"location": "BER-MITTE", "purpose": "order", "lines": [{"sku": "OAT-MILK-1L", "quantity": 2}], "reference": "basket-88"}),
        ),
        ("post", "/v1/reservations/{id}/extend", json!({"expires_in_seconds": 900})),
        ("post", "/v1/orders/{id}/cancel", json!({"reason": "customer changed mind"})),
        ("post", "/v1/fulfilments/{id}/cancel", json!({"reason": "out of stock after all"})),
        ("post", "/v1/fulfilments/{id}/ship", json!({"tracking": "00340434161094042557"})),
        ("post", "/v1/orders/{id}/lines/{line}/cancel", json!({"quantity": 1, "reason": "customer changed mind"})),
        (
            "post",
            "/v1/orders/{id}/returns",
            json!({"location": "BER-MITTE", "lines": [{"line": "0192f4a3-7c1e-7b3a-9d2e-5f6a7b8c9d0e", "quantity": 1, "disposition": "restock"}], "reason": "too big"}),
        ),
        ("post", "/v1/orders/{id}/fulfilments/{fulfilment}/arrived", json!({"note": "bay 3, red Golf"})),
        (
            "post",
            "/v1/locations/{code}/pickups/{id}/picks",
            json!({"lines": [{"line": "0192f4a3-7c1e-7b3a-9d2e-5f6a7b8c9d0e", "picked": 2}]}),
        ),
        ("post", "/v1/locations/{code}/pickups/{id}/collect", json!({"code": "483920"})),
        ("post", "/v1/locations", with_code(location.clone(), "code", "BER-PBERG")),
        ("put", "/v1/locations/{code}", location),
        (
            "post",
            "/v1/locations/{code}/stock/receipts",
            json!({"lines": [{"sku": "OAT-MILK-1L", "quantity": 24}], "reference": "PO-2026-118"}),
        ),
        (
            "post",
            "/v1/locations/{code}/stock/adjustments",
            json!({"sku": "OAT-MILK-1L", "delta": -1, "reason": "damaged"}),
        ),
        (
            "post",
            "/v1/locations/{code}/stock/counts",
            json!({"lines": [{"sku": "OAT-MILK-1L", "counted": 17}], "reason": "weekly count"}),
        ),
        (
            "post",
            "/v1/locations/{code}/stock/transfers",
            json!({"to": "BER-KREUZBERG", "lines": [{"sku": "OAT-MILK-1L", "quantity": 6}]}),
        ),
        ("put", "/v1/locations/{code}/stock/{sku}", json!({"safety_stock": 2, "aisle": "A3"})),
        ("post", "/v1/skus", with_code(sku.clone(), "code", "OAT-MILK-1L")),
        ("put", "/v1/skus/{code}", sku),
        ("post", "/v1/promotions", promotion.clone()),
        ("put", "/v1/promotions/{id}", promotion),
        ("put", "/v1/tax-rates/{region}", json!({"rate_percent": "7", "tax_class": "reduced"})),
        ("post", "/v1/marketplaces", marketplace.clone()),
        ("put", "/v1/marketplaces/{id}", marketplace),
        ("put", "/v1/marketplaces/{id}/listings/{sku}", json!({"listing_id": "39072856", "seller_sku": "OATLY-1L"})),
        (
            "post",
            "/v1/voice/commands",
            json!({"customer_ref": "shop-cust-1001", "intent": "add", "phrase": "add two oat milk"}),
        ),
    ];
    for (method, path, example) in examples {
        let pointer = format!("/paths/{}/{method}/requestBody/content/application~1json", escape(path));
        if let Some(Value::Object(media)) = doc.pointer_mut(&pointer) {
            media.insert("example".into(), example);
        }
    }
}

/// Links between operations for the main flows: what one answer gives the
/// next call (OpenAPI links; clients and stateful fuzzers follow them).
fn add_links(doc: &mut Value) {
    let customer_cart = |status: &str, source: &str| {
        (
            status.to_owned(),
            source.to_owned(),
            vec![
                ("AddLine", "add_line", json!({"ref": "$request.path.ref"})),
                ("ChooseFulfilment", "set_fulfilment", json!({"ref": "$request.path.ref"})),
                (
                    "Checkout",
                    "checkout",
                    json!({"ref": "$request.path.ref", "header.If-Match": "$response.header.ETag"}),
                ),
            ],
        )
    };
    let order = |status: &str, source: &str| {
        (
            status.to_owned(),
            source.to_owned(),
            vec![
                ("ReadOrder", "get_order", json!({"id": "$response.body#/id"})),
                ("CancelOrder", "cancel_order", json!({"id": "$response.body#/id"})),
                ("OrderAudit", "order_audit", json!({"id": "$response.body#/id"})),
                ("StartPicking", "start_picking", json!({"id": "$response.body#/fulfilments/0/id"})),
                ("CancelFulfilment", "cancel_fulfilment", json!({"id": "$response.body#/fulfilments/0/id"})),
            ],
        )
    };
    let hold = |source: &str| {
        (
            "201".to_owned(),
            source.to_owned(),
            vec![
                ("ReadReservation", "get_reservation", json!({"id": "$response.body#/id"})),
                ("CommitReservation", "commit_reservation", json!({"id": "$response.body#/id"})),
                ("ReleaseReservation", "release_reservation", json!({"id": "$response.body#/id"})),
                ("ExtendReservation", "extend_reservation", json!({"id": "$response.body#/id"})),
            ],
        )
    };
    let flows = [
        (
            "201".to_owned(),
            "create_customer".to_owned(),
            vec![
                ("ReadCart", "get_cart", json!({"ref": "$response.body#/external_ref"})),
                ("AddLine", "add_line", json!({"ref": "$response.body#/external_ref"})),
            ],
        ),
        customer_cart("200", "add_line"),
        customer_cart("200", "set_fulfilment"),
        order("201", "checkout"),
        order("201", "counter_checkout"),
        order("201", "endless_aisle"),
        order("200", "get_order"),
        hold("create_reservation"),
        hold("create_pos_hold"),
    ];
    for (status, source, links) in flows {
        let Some(operation) = operations(doc).find(|op| op.get("operationId").and_then(Value::as_str) == Some(&source))
        else {
            continue;
        };
        let Some(Value::Object(response)) = operation.get_mut("responses").and_then(|r| r.get_mut(&status)) else {
            continue;
        };
        let all = response.entry("links").or_insert_with(|| json!({}));
        for (name, target, parameters) in links {
            all[name] = json!({"operationId": target, "parameters": parameters});
        }
    }
}

/// The marketplace webhook contract (what `connector::verify` and `parse`
/// accept) on the webhook operation, and the calls this service makes to
/// marketplaces as OpenAPI 3.1 `webhooks` (requests the service initiates).
fn document_marketplace_traffic(doc: &mut Value) {
    let header = |name: &str, description: &str| json!({"name": name, "in": "header", "required": false, "description": description, "schema": {"type": "string"}});
    let shopify_order = json!({
        "type": "object",
        "description": "A Shopify order (topics orders/create, orders/cancelled — which needs cancelled_at — and refunds/create). Line `price` is the unit price; the line total is price × quantity to the cent.",
        "required": ["id", "line_items"],
        "properties": {
            "id": {"type": ["integer", "string"]},
            "name": {"type": "string"},
            "currency": {"type": "string", "examples": ["EUR"]},
            "cancelled_at": {"type": ["string", "null"], "format": "date-time"},
            "line_items": {"type": "array", "maxItems": 100, "items": {"type": "object", "required": ["sku", "quantity", "price"],
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "price": {"type": "string"}}}},
            "shipping_address": {"type": "object"},
            "customer": {"type": "object"},
        },
    });
    let item = json!({"type": "object", "properties": {
        "SellerSKU": {"type": "string"},
        "Quantity": {"type": "integer", "minimum": 1},
        "ItemPrice": {"type": "object", "properties": {"Amount": {"type": "string"}, "CurrencyCode": {"type": "string"}}},
    }});
    let summary = json!({"type": "object", "properties": {
        "OrderStatus": {"type": "string", "examples": ["Unshipped", "Canceled"]},
        "OrderItems": {"type": "array", "maxItems": 100, "items": item},
    }});
    let change = json!({"type": "object", "properties": {"AmazonOrderId": {"type": "string"}, "Summary": summary}});
    let amazon_notification = json!({
        "type": "object",
        "description": "An SP-API ORDER_CHANGE notification, relayed signed. Item `ItemPrice` is the line total; other notification types are acknowledged and ignored.",
        "required": ["NotificationType", "Payload", "NotificationMetadata"],
        "properties": {
            "NotificationType": {"type": "string", "examples": ["ORDER_CHANGE"]},
            "Payload": {"type": "object", "properties": {"OrderChangeNotification": change}},
            "NotificationMetadata": {"type": "object", "required": ["NotificationId"], "properties": {"NotificationId": {"type": "string"}}},
        },
    });
    if let Some(operation) =
        operations(doc).find(|op| op.get("operationId").and_then(Value::as_str) == Some("receive_webhook"))
    {
        operation.insert("description".into(), json!(
            "Signed order events from a marketplace; no API key. **Shopify**: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body under the marketplace's `webhook_secret`; `X-Shopify-Topic` names the event, `X-Shopify-Webhook-Id` the delivery, and an `X-Shopify-Triggered-At` older than the replay window (`OMNISTOCK_MARKETPLACE__REPLAY_WINDOW_SECS`, 300 s) is refused. **Amazon** (relayed): `X-Omnistock-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">`, `t` within the replay window. A bad or stale signature answers 401 and changes nothing. Deliveries are deduplicated by delivery id and by effect (one order per marketplace order, one cancellation, one refund), so a redelivery answers 200 `duplicate` naming the same order. A deactivated marketplace answers 410 to signed deliveries. The body is acted on as signed: the topic cannot turn one event into another."
        ));
        let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
        if let Value::Array(list) = parameters {
            list.extend([
                header("X-Shopify-Hmac-Sha256", "Shopify: base64 HMAC-SHA256 of the raw body"),
                header("X-Shopify-Topic", "Shopify: orders/create, orders/cancelled or refunds/create"),
                header("X-Shopify-Webhook-Id", "Shopify: the delivery id, for deduplication"),
                header("X-Shopify-Triggered-At", "Shopify: when the event fired (RFC 3339)"),
                header(
                    "X-Omnistock-Signature",
                    "Amazon (relayed): t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">",
                ),
            ]);
        }
        operation.insert("requestBody".into(), json!({"required": true, "content": {"application/json": {"schema": {"oneOf": [shopify_order, amazon_notification]}}}}));
    }
    let call = |summary: &str, method: &str, description: &str, body: Value| {
        json!({method: {
            "summary": summary,
            "description": description,
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}, "example": body}}},
            "responses": {"2XX": {"description": "Accepted by the marketplace"}, "default": {"description": "Retried with exponential backoff (OMNISTOCK_MARKETPLACE__BACKOFF_*), parked after OMNISTOCK_MARKETPLACE__MAX_ATTEMPTS (8) tries and shown at /v1/marketplaces/{id}/sync"}},
        }})
    };
    let pushes = "Stock pushes coalesce (the latest quantity per listing wins), batch where the API allows and keep to the marketplace's rate_limit_per_sec.";
    doc["webhooks"] = json!({
        "shopify-inventory-set": call("Shopify: set a listing's available quantity", "post",
            &format!("POST {{base_url}}/admin/api/2024-07/inventory_levels/set.json with X-Shopify-Access-Token. {pushes}"),
            json!({"location_id": 905_684_977, "inventory_item_id": 39_072_856, "available": 17})),
        "shopify-fulfillment": call("Shopify: confirm a shipment", "post",
            "POST {base_url}/admin/api/2024-07/orders/{id}/fulfillments.json when the order's fulfilment ships.",
            json!({"fulfillment": {"location_id": 905_684_977, "tracking_number": "00340434161094042557", "notify_customer": true}})),
        "shopify-cancel": call("Shopify: confirm a cancellation", "post",
            "POST {base_url}/admin/api/2024-07/orders/{id}/cancel.json when the order is cancelled here.",
            json!({"reason": "other", "email": true, "note": "out of stock"})),
        "amazon-listing-patch": call("Amazon: set one listing's quantity", "patch",
            &format!("PATCH {{base_url}}/listings/2021-08-01/items/{{seller_id}}/{{sku}}?marketplaceIds=… for a single change. {pushes}"),
            json!({"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 17}]}]})),
        "amazon-listings-feed": call("Amazon: set many listings' quantities", "post",
            "POST {base_url}/feeds/2021-06-30/documents, PUT the JSON_LISTINGS_FEED to the returned url, then POST {base_url}/feeds/2021-06-30/feeds.",
            json!({"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["A1PA6795UKMFR9"], "inputFeedDocumentId": "doc-1"})),
        "amazon-shipment-confirmation": call("Amazon: confirm a shipment", "post",
            "POST {base_url}/orders/v0/orders/{id}/shipmentConfirmation when the order's fulfilment ships.",
            json!({"marketplaceId": "A1PA6795UKMFR9", "packageDetail": {"trackingNumber": "00340434161094042557"}})),
        "amazon-cancellation": call("Amazon: confirm a cancellation", "post",
            "POST {base_url}/orders/v0/orders/{id}/cancellation when the order is cancelled here.",
            json!({"marketplaceId": "A1PA6795UKMFR9", "cancelReason": "out of stock"})),
    });
}

/// Every operation object of the document.
fn operations(doc: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
}

/// A path as a JSON Pointer token.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_and_example_lands_on_an_operation() {
        let doc: Value = serde_json::from_str(crate::http::openapi_document()).unwrap();
        let ids: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
            .collect();
        let mut links = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                for response in op["responses"].as_object().into_iter().flat_map(|r| r.values()) {
                    for link in response["links"].as_object().into_iter().flat_map(|l| l.values()) {
                        assert!(
                            ids.iter().any(|id| link["operationId"] == id.as_str()),
                            "no operation {}",
                            link["operationId"]
                        );
                        links += 1;
                    }
                }
                if let Some(media) = op.pointer("/requestBody/content/application~1json") {
                    let id = &op["operationId"];
                    assert!(media.get("example").is_some() || id == "receive_webhook", "{id} has no example body");
                }
            }
        }
        assert!(links >= 20, "{links}");
    }

    #[test]
    fn bodies_are_closed_through_references() {
        let mut doc = json!({
            "paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}},
            "components": {"schemas": {
                "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"type": "object", "properties": {"c": {"type": "string"}}},
                "C": {"type": "object", "properties": {}},
            }},
        });
        request_bodies_are_closed(&mut doc);
        assert_eq!(doc["components"]["schemas"]["A"]["additionalProperties"], false);
        assert_eq!(doc["components"]["schemas"]["B"]["additionalProperties"], false);
        assert!(doc["components"]["schemas"]["C"].get("additionalProperties").is_none(), "only what a request reaches");
    }
}
