//! Locations and SKUs on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CodeText, MoneyDto, MoneyInput, Text100, Text200, Validator, resource_code, text, utc};
use crate::catalog::location::{Address, Capabilities, LocationKind, OpeningHours, TimeZone};
use crate::catalog::{Component, Location, LocationInput, Sku, SkuInput, sku};
use crate::http::problem::ApiError;
use crate::pricing::{self, tax};
use crate::types::{Code, GeoPoint, Gtin};

/// A location as created or replaced. `code` is taken from the path on PUT.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationRequest {
    /// Stable short code, e.g. `BER-MITTE`, unique whatever its case:
    /// required on POST; on PUT it comes from the path and is left out of the body.
    #[serde(default)]
    #[schema(value_type = Option<CodeText>)]
    pub code: Option<String>,
    #[schema(value_type = Text200)]
    pub name: String,
    pub kind: LocationKind,
    pub address: Address,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
    pub time_zone: TimeZone,
    #[serde(default)]
    pub opening_hours: OpeningHours,
    pub capabilities: Capabilities,
}

impl LocationRequest {
    /// Validates into a domain input; `path_code` is the code of the URL on PUT.
    pub fn into_input(self, path_code: Option<&str>) -> Result<LocationInput, ApiError> {
        let mut v = Validator::default();
        let code = resource_code(&mut v, path_code, self.code.as_deref());
        let name = v.check("/name", text(&self.name, 200));
        let point = v.check("/latitude", GeoPoint::new(self.latitude, self.longitude));
        for (field, detail) in self.address.validate() {
            v.error(format!("/address/{field}"), detail);
        }
        for detail in self.opening_hours.validate() {
            v.error("/opening_hours", detail);
        }
        for (field, detail) in self.capabilities.validate() {
            v.error(format!("/capabilities/{field}"), detail);
        }
        let (Some(code), Some(name), Some(point)) = (code, name, point) else { return Err(v.into_error()) };
        v.finish()?;
        Ok(LocationInput {
            code,
            name,
            kind: self.kind,
            address: self.address,
            point,
            time_zone: self.time_zone,
            opening_hours: self.opening_hours,
            capabilities: self.capabilities,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationResponse {
    pub id: String,
    pub code: String,
    pub name: String,
    pub kind: LocationKind,
    pub address: Address,
    pub latitude: f64,
    pub longitude: f64,
    pub time_zone: TimeZone,
    pub opening_hours: OpeningHours,
    pub capabilities: Capabilities,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Location> for LocationResponse {
    fn from(l: &Location) -> Self {
        Self {
            id: l.id.to_string(),
            code: l.code.to_string(),
            name: l.name.clone(),
            kind: l.kind,
            address: l.address.clone(),
            latitude: l.point.latitude,
            longitude: l.point.longitude,
            time_zone: l.time_zone,
            opening_hours: l.opening_hours.clone(),
            capabilities: l.capabilities.clone(),
            active: l.active,
            version: l.version,
            created_at: utc(l.created_at),
            updated_at: utc(l.updated_at),
        }
    }
}

/// A SKU as created, replaced or imported. `code` is taken from the path on PUT.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuRequest {
    /// Required on POST; on PUT it comes from the path and is left out of the body.
    #[serde(default)]
    #[schema(value_type = Option<CodeText>)]
    pub code: Option<String>,
    #[schema(value_type = Text200)]
    pub name: String,
    /// GTIN-8/12/13/14; its last digit must be the GS1 check digit of the others.
    #[serde(default)]
    #[schema(pattern = "^([0-9]{8}|[0-9]{12,14})$")]
    pub gtin: Option<String>,
    pub price: MoneyInput,
    /// Names customers say to a voice assistant (at most 20).
    #[serde(default)]
    #[schema(value_type = Vec<Text100>, max_items = 20)]
    pub spoken_names: Vec<String>,
    #[serde(default = "active_by_default")]
    pub active: bool,
    /// Which of a region's tax rates applies: `standard` (the default),
    /// `reduced` (e.g. food in DE and AT), or any class the retailer set rates for.
    #[serde(default)]
    #[schema(example = "reduced", pattern = "^[a-z0-9_]{1,32}$")]
    pub tax_class: Option<String>,
    /// Makes the SKU a kit: 2 to 20 distinct ordinary SKUs (code or GTIN) and
    /// the units of each one kit holds. A kit has no stock of its own; what it
    /// can sell comes from its components. Set on creation; a kit stays a kit.
    #[serde(default)]
    #[schema(min_items = 2, max_items = 20)]
    pub components: Option<Vec<ComponentInput>>,
}

/// One component of a kit, as asked for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentInput {
    /// Code or GTIN of an ordinary (not kit) SKU.
    #[schema(value_type = CodeText)]
    pub sku: String,
    /// Units of it in one kit.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

/// A kit's component as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentResponse {
    pub sku: String,
    pub quantity: i32,
}

impl From<&Component> for ComponentResponse {
    fn from(c: &Component) -> Self {
        Self { sku: c.sku_code.clone(), quantity: c.quantity }
    }
}

/// A list of components (a kit's, or those of a kit that came back):
/// `count` of them, each quantity from 1 to `most`. A SKU listed twice is
/// the domain's to refuse (a 409: the contract cannot say "each once").
/// None: it was wrong, and why is in `v`; Some(None): there was no list.
pub fn component_list(
    v: &mut Validator,
    pointer: &str,
    raw: Option<&[ComponentInput]>,
    count: std::ops::RangeInclusive<usize>,
    most: i32,
) -> Option<Option<Vec<(String, i32)>>> {
    let Some(raw) = raw else { return Some(None) };
    let mut wrong = Vec::new();
    if !count.contains(&raw.len()) {
        wrong.push((pointer.to_owned(), format!("list {} to {} components", count.start(), count.end())));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, c) in raw.iter().enumerate() {
        let code = Code::parse(&c.sku).map_err(|why| wrong.push((format!("{pointer}/{i}/sku"), why))).ok();
        let quantity = i32::try_from(c.quantity).ok().filter(|q| (1..=most).contains(q));
        if quantity.is_none() {
            wrong.push((format!("{pointer}/{i}/quantity"), format!("a whole number of units from 1 to {most}")));
        }
        if let (Some(code), Some(quantity)) = (code, quantity) {
            out.push((code.into_string(), quantity));
        }
    }
    let valid = wrong.is_empty();
    for (pointer, why) in wrong {
        v.error(pointer, why);
    }
    valid.then_some(Some(out))
}

fn active_by_default() -> bool {
    true
}

impl SkuRequest {
    pub fn into_input(self, path_code: Option<&str>) -> Result<SkuInput, ApiError> {
        let mut v = Validator::default();
        let code = resource_code(&mut v, path_code, self.code.as_deref());
        let name = v.check("/name", text(&self.name, 200));
        let gtin = match self.gtin.as_deref() {
            Some(raw) => v.check("/gtin", Gtin::parse(raw)).map(Some),
            None => Some(None),
        };
        let price = self.price.validate(&mut v, "/price");
        let mut spoken_names = Vec::new();
        for (i, spoken) in self.spoken_names.iter().enumerate() {
            if let Some(name) = v.check(&format!("/spoken_names/{i}"), text(spoken, 100)) {
                spoken_names.push(name);
            }
        }
        if self.spoken_names.len() > 20 {
            v.error("/spoken_names", "at most 20 spoken names");
        }
        let tax_class = match self.tax_class.as_deref() {
            Some(raw) => v.check("/tax_class", tax::parse_class(raw)),
            None => Some(pricing::STANDARD.to_owned()),
        };
        let components = component_list(
            &mut v,
            "/components",
            self.components.as_deref(),
            sku::KIT_COMPONENTS,
            sku::MAX_COMPONENT_QUANTITY,
        );
        let (Some(code), Some(name), Some(gtin), Some(price), Some(tax_class), Some(components)) =
            (code, name, gtin, price, tax_class, components)
        else {
            return Err(v.into_error());
        };
        v.finish()?;
        Ok(SkuInput { code, name, gtin, price, spoken_names, active: self.active, tax_class, components })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkuResponse {
    pub id: String,
    pub code: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    pub price: MoneyDto,
    pub spoken_names: Vec<String>,
    pub active: bool,
    pub tax_class: String,
    /// Present on a kit: what one kit is made of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<ComponentResponse>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Sku> for SkuResponse {
    fn from(s: &Sku) -> Self {
        Self {
            id: s.id.to_string(),
            code: s.code.to_string(),
            name: s.name.clone(),
            gtin: s.gtin.as_ref().map(|g| g.as_str().to_owned()),
            price: s.price.into(),
            spoken_names: s.spoken_names.clone(),
            active: s.active,
            tax_class: s.tax_class.clone(),
            components: s.is_kit().then(|| s.components.iter().map(ComponentResponse::from).collect()),
            version: s.version,
            created_at: utc(s.created_at),
            updated_at: utc(s.updated_at),
        }
    }
}
