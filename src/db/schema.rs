//! The one schema for both backends, kept by hand with portable types only
//! (MultiBackend has no Timestamptz, Uuid, Jsonb or Numeric): ids and JSON are
//! Text, money BigInt minor units, times UTC Timestamp.

diesel::table! {
    locations (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        kind -> Text,
        address -> Text,
        latitude -> Double,
        longitude -> Double,
        time_zone -> Text,
        opening_hours -> Text,
        ships -> Bool,
        pickup -> Bool,
        curbside -> Bool,
        same_day -> Nullable<Text>,
        pickup_prep_minutes -> Integer,
        pickup_hold_days -> Integer,
        tax_region -> Text,
        active -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    skus (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        search_name -> Text,
        gtin -> Nullable<Text>,
        price_minor -> BigInt,
        currency -> Text,
        spoken_names -> Text,
        active -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        tax_class -> Text,
        components -> Nullable<Text>,
    }
}

diesel::table! {
    marketplaces (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        base_url -> Text,
        credentials -> Text,
        webhook_secret -> Text,
        share_percent -> Integer,
        buffer_units -> Integer,
        rate_limit_per_sec -> Integer,
        settings -> Text,
        active -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        locations -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        role -> Text,
        location_id -> Nullable<Text>,
        channel -> Text,
        marketplace_id -> Nullable<Text>,
        secret_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (caller_id, idempotency_key) {
        caller_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        response_status -> Integer,
        response_body -> Text,
        response_etag -> Nullable<Text>,
        response_location -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    order_refunds (id) {
        id -> Text,
        order_id -> Text,
        kind -> Text,
        amount_minor -> BigInt,
        reason -> Text,
        lines -> Text,
        channel -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    service_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(api_keys -> locations (location_id));
diesel::joinable!(api_keys -> marketplaces (marketplace_id));

diesel::table! {
    stock_levels (sku_id, location_id) {
        sku_id -> Text,
        location_id -> Text,
        on_hand -> Integer,
        reserved -> Integer,
        safety_stock -> Integer,
        aisle -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> BigInt,
        sku_id -> Text,
        location_id -> Text,
        kind -> Text,
        on_hand_delta -> Integer,
        reserved_delta -> Integer,
        reason -> Nullable<Text>,
        reference -> Nullable<Text>,
        actor -> Text,
        channel -> Text,
        created_at -> Timestamp,
        kit_sku_id -> Nullable<Text>,
    }
}

diesel::table! {
    reservations (id) {
        id -> Text,
        location_id -> Text,
        purpose -> Text,
        status -> Text,
        customer_ref -> Nullable<Text>,
        reference -> Nullable<Text>,
        channel -> Text,
        created_by -> Text,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        order_id -> Nullable<Text>,
        marketplace_id -> Nullable<Text>,
    }
}

diesel::table! {
    reservation_lines (reservation_id, sku_id) {
        reservation_id -> Text,
        sku_id -> Text,
        quantity -> Integer,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        seq -> Nullable<BigInt>,
        topic -> Text,
        sku_id -> Nullable<Text>,
        location_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    event_offsets (consumer) {
        consumer -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        external_ref -> Text,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        marketing_consent -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    carts (id) {
        id -> Text,
        customer_id -> Nullable<Text>,
        token -> Nullable<Text>,
        status -> Text,
        open_for -> Nullable<Text>,
        currency -> Nullable<Text>,
        fulfilment -> Nullable<Text>,
        promotion_code -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        merged_into -> Nullable<Text>,
        channels -> Text,
    }
}

diesel::table! {
    cart_lines (cart_id, sku_id) {
        cart_id -> Text,
        sku_id -> Text,
        quantity -> Integer,
        hold_id -> Nullable<Text>,
        added_channel -> Text,
        added_at -> Timestamp,
        updated_at -> Timestamp,
        updated_channel -> Nullable<Text>,
    }
}

diesel::table! {
    cart_changes (id) {
        id -> BigInt,
        cart_id -> Text,
        version -> Integer,
        action -> Text,
        sku_id -> Nullable<Text>,
        quantity -> Nullable<Integer>,
        detail -> Nullable<Text>,
        channel -> Text,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    promotions (id) {
        id -> Text,
        code -> Nullable<Text>,
        name -> Text,
        kind -> Text,
        percent -> Nullable<Text>,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        sku_id -> Nullable<Text>,
        min_subtotal_minor -> Nullable<BigInt>,
        starts_at -> Timestamp,
        ends_at -> Nullable<Timestamp>,
        channels -> Nullable<Text>,
        active -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tax_rates (region, tax_class) {
        region -> Text,
        rate_percent -> Text,
        updated_at -> Timestamp,
        tax_class -> Text,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        number -> Text,
        customer_id -> Nullable<Text>,
        channel -> Text,
        placed_by -> Text,
        cart_id -> Nullable<Text>,
        marketplace_id -> Nullable<Text>,
        external_id -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        currency -> Text,
        subtotal_minor -> BigInt,
        discount_minor -> BigInt,
        tax_minor -> BigInt,
        total_minor -> BigInt,
        prices_include_tax -> Bool,
        promotion_code -> Nullable<Text>,
        payment_reference -> Nullable<Text>,
        payment_minor -> Nullable<BigInt>,
        contact -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        store_id -> Nullable<Text>,
        channels -> Nullable<Text>,
    }
}

diesel::table! {
    fulfilments (id) {
        id -> Text,
        order_id -> Text,
        method -> Text,
        location_id -> Nullable<Text>,
        pickup_location_id -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        reservation_id -> Nullable<Text>,
        address -> Nullable<Text>,
        slot_id -> Nullable<Text>,
        ready_by -> Nullable<Timestamp>,
        pickup_code_hash -> Nullable<Text>,
        pickup_code_plain -> Nullable<Text>,
        pickup_code_attempts -> Integer,
        pickup_deadline -> Nullable<Timestamp>,
        expiry_warned -> Bool,
        arrived_at -> Nullable<Timestamp>,
        arrival_note -> Nullable<Text>,
        tracking -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    order_lines (id) {
        id -> Text,
        order_id -> Text,
        fulfilment_id -> Text,
        sku_id -> Text,
        sku_code -> Text,
        name -> Text,
        quantity -> Integer,
        unit_price_minor -> BigInt,
        discount_minor -> BigInt,
        tax_minor -> BigInt,
        total_minor -> BigInt,
        picked_quantity -> Nullable<Integer>,
        short_quantity -> Integer,
        cancelled_quantity -> Integer,
        returned_quantity -> Integer,
        components -> Nullable<Text>,
    }
}

diesel::table! {
    order_audit (id) {
        id -> BigInt,
        order_id -> Text,
        fulfilment_id -> Nullable<Text>,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        reason -> Nullable<Text>,
        actor -> Text,
        channel -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    returns (id) {
        id -> Text,
        order_id -> Text,
        location_id -> Nullable<Text>,
        reason -> Nullable<Text>,
        refund_minor -> BigInt,
        channel -> Text,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    return_lines (return_id, order_line_id) {
        return_id -> Text,
        order_line_id -> Text,
        quantity -> Integer,
        disposition -> Text,
        refund_minor -> BigInt,
    }
}

diesel::table! {
    delivery_slots (id) {
        id -> Text,
        location_id -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        booked -> Integer,
    }
}

diesel::table! {
    marketplace_listings (marketplace_id, sku_id) {
        marketplace_id -> Text,
        sku_id -> Text,
        listing_id -> Text,
        seller_sku -> Text,
    }
}

diesel::table! {
    marketplace_stock (marketplace_id, sku_id) {
        marketplace_id -> Text,
        sku_id -> Text,
        quantity -> Integer,
        pushed_quantity -> Nullable<Integer>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    marketplace_outbound (id) {
        id -> Text,
        marketplace_id -> Text,
        order_id -> Text,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    marketplace_deliveries (marketplace_id, delivery_id) {
        marketplace_id -> Text,
        delivery_id -> Text,
        external_order_id -> Nullable<Text>,
        topic -> Text,
        order_id -> Nullable<Text>,
        received_at -> Timestamp,
        effect -> Nullable<Text>,
    }
}

diesel::table! {
    marketplace_push_log (id) {
        id -> BigInt,
        marketplace_id -> Text,
        listing_id -> Text,
        quantity -> Integer,
        outcome -> Text,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(stock_levels -> locations (location_id));
diesel::joinable!(stock_levels -> skus (sku_id));
diesel::joinable!(stock_movements -> skus (sku_id));
diesel::joinable!(reservations -> locations (location_id));
diesel::joinable!(reservation_lines -> reservations (reservation_id));
diesel::joinable!(reservation_lines -> skus (sku_id));
diesel::joinable!(carts -> customers (customer_id));
diesel::joinable!(cart_lines -> carts (cart_id));
diesel::joinable!(cart_lines -> skus (sku_id));
diesel::joinable!(cart_changes -> carts (cart_id));
diesel::joinable!(orders -> customers (customer_id));
diesel::joinable!(fulfilments -> orders (order_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(order_lines -> fulfilments (fulfilment_id));
diesel::joinable!(order_audit -> orders (order_id));
diesel::joinable!(return_lines -> returns (return_id));
diesel::joinable!(marketplace_listings -> marketplaces (marketplace_id));
diesel::joinable!(marketplace_listings -> skus (sku_id));
diesel::joinable!(marketplace_stock -> marketplaces (marketplace_id));

diesel::table! {
    staff_sessions (id) {
        id -> Text,
        key_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(staff_sessions -> api_keys (key_id));

diesel::table! {
    reference_version (id) {
        id -> Integer,
        token -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    locations,
    skus,
    marketplaces,
    api_keys,
    idempotency_keys,
    stock_levels,
    stock_movements,
    reservations,
    reservation_lines,
    events,
    event_offsets,
    customers,
    carts,
    cart_lines,
    cart_changes,
    promotions,
    tax_rates,
    orders,
    fulfilments,
    order_lines,
    order_audit,
    returns,
    return_lines,
    delivery_slots,
    marketplace_listings,
    marketplace_stock,
    marketplace_outbound,
    marketplace_deliveries,
    marketplace_push_log,
    staff_sessions,
    reference_version,
);

diesel::allow_columns_to_appear_in_same_group_by_clause!(reservation_lines::sku_id, reservations::location_id);
diesel::allow_columns_to_appear_in_same_group_by_clause!(orders::channel, fulfilments::method);
diesel::allow_columns_to_appear_in_same_group_by_clause!(marketplaces::name, marketplace_stock::status);
