//! Request parameters, whatever encoding the client chose.
//!
//! Telegram accepts a query string, `application/x-www-form-urlencoded` and `application/json`
//! interchangeably, and form clients send nested values (`prices`, `reply_markup`,
//! `allowed_updates`) as JSON text. Everything is folded into one JSON object here, with such
//! JSON text decoded, so methods see one shape and recorded calls are easy to assert on.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub Map<String, Value>);

impl Params {
    /// Merges the query string and the body; body values win, as in the real server.
    pub(crate) fn parse(
        content_type: Option<&str>,
        query: Option<&str>,
        body: &[u8],
    ) -> ApiResult<Params> {
        let mut map = Map::new();
        if let Some(query) = query {
            absorb_form(&mut map, query.as_bytes());
        }
        let mime = content_type
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let body_is_blank = body.iter().all(u8::is_ascii_whitespace);
        if body_is_blank {
            return Ok(Params(map));
        }
        match mime.as_str() {
            "application/json" => absorb_json(&mut map, body)?,
            "application/x-www-form-urlencoded" => absorb_form(&mut map, body),
            "multipart/form-data" => {
                let boundary = content_type
                    .and_then(|c| {
                        c.split(';')
                            .filter_map(|p| p.trim().strip_prefix("boundary="))
                            .next()
                    })
                    .map(|b| b.trim_matches('"').to_owned())
                    .ok_or_else(|| ApiError::bad("multipart body without a boundary"))?;
                absorb_multipart(&mut map, body, &boundary)?;
            }
            // Clients that forget the header: accept whichever encoding parses.
            _ => {
                if absorb_json(&mut map, body).is_err() {
                    absorb_form(&mut map, body);
                }
            }
        }
        Ok(Params(map))
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn opt_str(&self, name: &str) -> ApiResult<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ApiError::bad(format!(
                "field \"{name}\" must be of type String"
            ))),
        }
    }

    /// Telegram treats an empty required string as missing.
    pub(crate) fn req_str(&self, name: &str) -> ApiResult<String> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::required(name)),
        }
    }

    pub(crate) fn opt_i64(&self, name: &str) -> ApiResult<Option<i64>> {
        let invalid = || ApiError::bad(format!("field \"{name}\" must be an Integer"));
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(invalid),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid()),
            Some(_) => Err(invalid()),
        }
    }

    pub(crate) fn req_i64(&self, name: &str) -> ApiResult<i64> {
        self.opt_i64(name)?.ok_or_else(|| ApiError::required(name))
    }

    pub(crate) fn opt_bool(&self, name: &str) -> ApiResult<Option<bool>> {
        let invalid = || ApiError::bad(format!("field \"{name}\" must be a Boolean"));
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) => Ok(Some(n.as_i64().ok_or_else(invalid)? != 0)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" | "" => Ok(Some(false)),
                _ => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }

    pub(crate) fn req_bool(&self, name: &str) -> ApiResult<bool> {
        self.opt_bool(name)?.ok_or_else(|| ApiError::required(name))
    }

    /// A structured parameter; a JSON text value is decoded.
    pub(crate) fn opt_json(&self, name: &str) -> ApiResult<Option<Value>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad(format!("can't parse {name} JSON object"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    /// `chat_id` as a private chat id; `@username` targets never match a private chat.
    pub(crate) fn chat_id(&self) -> ApiResult<i64> {
        match self.get("chat_id") {
            None => Err(ApiError::required("chat_id")),
            Some(Value::String(s)) if s.trim().is_empty() => Err(ApiError::required("chat_id")),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| ApiError::chat_not_found()),
            Some(Value::Number(n)) => n.as_i64().ok_or_else(ApiError::chat_not_found),
            Some(_) => Err(ApiError::bad("chat_id is invalid")),
        }
    }
}

fn absorb_json(map: &mut Map<String, Value>, body: &[u8]) -> ApiResult<()> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => {
            map.extend(obj);
            Ok(())
        }
        Ok(_) => Err(ApiError::bad("JSON body must be an object")),
        Err(_) => Err(ApiError::bad("can't parse JSON body")),
    }
}

/// `multipart/form-data`, which clients use when a method may carry a file (teloxide sends
/// setWebhook this way for its optional certificate). Text parts become values like form
/// fields; file parts are recorded by their file name (the simulator keeps no files).
fn absorb_multipart(map: &mut Map<String, Value>, body: &[u8], boundary: &str) -> ApiResult<()> {
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break; // the closing delimiter
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((headers, content)) = part.split_once("\r\n\r\n") else {
            return Err(ApiError::bad("malformed multipart part"));
        };
        let content = content.strip_suffix("\r\n").unwrap_or(content);
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or_else(|| ApiError::bad("multipart part without a content-disposition"))?;
        let attribute = |key: &str| {
            disposition
                .split(';')
                .filter_map(|p| p.trim().strip_prefix(&format!("{key}=")))
                .next()
                .map(|v| v.trim_matches('"').to_owned())
        };
        let Some(name) = attribute("name") else {
            return Err(ApiError::bad("multipart part without a name"));
        };
        let value = match attribute("filename") {
            Some(file) => Value::String(format!("<file {file}>")),
            None => decode_form_value(content),
        };
        map.insert(name, value);
    }
    Ok(())
}

fn absorb_form(map: &mut Map<String, Value>, raw: &[u8]) {
    for (key, value) in url::form_urlencoded::parse(raw) {
        map.insert(key.into_owned(), decode_form_value(&value));
    }
}

/// Form values that hold a JSON array or object become that JSON; everything else stays text.
fn decode_form_value(value: &str) -> Value {
    let trimmed = value.trim_start();
    if (trimmed.starts_with('[') || trimmed.starts_with('{'))
        && let Ok(parsed) = serde_json::from_str::<Value>(value)
    {
        return parsed;
    }
    Value::String(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_are_read_like_forms() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttp://h/telegram/a\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"allowed_updates\"\r\n\r\n[\"message\"]\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"certificate\"; filename=\"c.pem\"\r\n\
                    Content-Type: application/octet-stream\r\n\r\nPEM\r\n--XyZ--\r\n";
        let p = Params::parse(
            Some("multipart/form-data; boundary=XyZ"),
            None,
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(p.0["url"], "http://h/telegram/a");
        assert_eq!(p.0["allowed_updates"], serde_json::json!(["message"]));
        assert_eq!(p.0["certificate"], "<file c.pem>");
    }

    #[test]
    fn form_values_holding_json_are_decoded() {
        let p = Params::parse(
            Some("application/x-www-form-urlencoded"),
            Some("chat_id=5"),
            b"prices=%5B%7B%22label%22%3A%22x%22%2C%22amount%22%3A5%7D%5D&ok=true",
        )
        .unwrap();
        assert_eq!(p.0["prices"][0]["amount"], 5);
        assert_eq!(p.chat_id().unwrap(), 5);
        assert_eq!(p.opt_bool("ok").unwrap(), Some(true));
    }

    #[test]
    fn body_wins_over_query_and_empty_strings_count_as_missing() {
        let p = Params::parse(
            Some("application/json"),
            Some("text=a"),
            br#"{"text":"b","payload":""}"#,
        )
        .unwrap();
        assert_eq!(p.req_str("text").unwrap(), "b");
        assert_eq!(
            p.req_str("payload").unwrap_err().description,
            "Bad Request: Parameter \"payload\" is required"
        );
    }
}
