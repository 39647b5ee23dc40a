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

diesel::joinable!(api_keys -> locations (location_id));
diesel::joinable!(api_keys -> marketplaces (marketplace_id));

diesel::allow_tables_to_appear_in_same_query!(locations, skus, marketplaces, api_keys, idempotency_keys);
