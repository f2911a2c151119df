// gguf::Value: construction and checked typed access (spec gguf-and-quants.md §1.4: readers
// accept any integer width for integer keys and range-check, and FLOAT32 or FLOAT64 for floats).
#include <cmath>
#include <limits>
#include <type_traits>

#include "formats/gguf.h"

namespace whale::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "UINT8";
    case ValueType::INT8: return "INT8";
    case ValueType::UINT16: return "UINT16";
    case ValueType::INT16: return "INT16";
    case ValueType::UINT32: return "UINT32";
    case ValueType::INT32: return "INT32";
    case ValueType::FLOAT32: return "FLOAT32";
    case ValueType::BOOL: return "BOOL";
    case ValueType::STRING: return "STRING";
    case ValueType::ARRAY: return "ARRAY";
    case ValueType::UINT64: return "UINT64";
    case ValueType::INT64: return "INT64";
    case ValueType::FLOAT64: return "FLOAT64";
  }
  return "UNKNOWN";
}

Value Value::make_uint(ValueType t, uint64_t v) {
  Value r;
  r.type_ = t;
  r.u_ = v;
  r.i_ = static_cast<int64_t>(v);
  return r;
}

Value Value::make_int(ValueType t, int64_t v) {
  Value r;
  r.type_ = t;
  r.i_ = v;
  r.u_ = static_cast<uint64_t>(v);
  return r;
}

Value Value::make_float(ValueType t, double v) {
  Value r;
  r.type_ = t;
  r.f_ = v;
  return r;
}

Value Value::make_bool(bool v) {
  Value r;
  r.type_ = ValueType::BOOL;
  r.u_ = v ? 1 : 0;
  r.i_ = v ? 1 : 0;
  return r;
}

Value Value::make_string(std::string v) {
  Value r;
  r.type_ = ValueType::STRING;
  r.str_ = std::move(v);
  return r;
}

Value Value::make_array(ValueType elem_type, std::vector<Value> elems) {
  Value r;
  r.type_ = ValueType::ARRAY;
  r.elem_type_ = elem_type;
  r.array_ = std::move(elems);
  return r;
}

bool Value::is_integer() const {
  switch (type_) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

namespace {

bool is_unsigned_type(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
         t == ValueType::UINT64;
}

}  // namespace

template <class T>
T Value::as(std::string_view what) const {
  if constexpr (std::is_same_v<T, bool>) {
    if (type_ != ValueType::BOOL)
      fail(what, ": expected BOOL, found ", value_type_name(type_));
    return u_ != 0;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (type_ != ValueType::STRING)
      fail(what, ": expected STRING, found ", value_type_name(type_));
    return str_;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (is_float()) return static_cast<T>(f_);
    if (is_integer())
      return is_unsigned_type(type_) ? static_cast<T>(u_) : static_cast<T>(i_);
    fail(what, ": expected a number, found ", value_type_name(type_));
  } else {
    static_assert(std::is_integral_v<T>);
    if (!is_integer()) fail(what, ": expected an integer, found ", value_type_name(type_));
    if (is_unsigned_type(type_)) {
      if (u_ > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        fail(what, ": value ", u_, " out of range for the expected type");
      return static_cast<T>(u_);
    }
    if constexpr (std::is_unsigned_v<T>) {
      if (i_ < 0 || static_cast<uint64_t>(i_) > std::numeric_limits<T>::max())
        fail(what, ": value ", i_, " out of range for the expected type");
    } else {
      if (i_ < std::numeric_limits<T>::min() || i_ > std::numeric_limits<T>::max())
        fail(what, ": value ", i_, " out of range for the expected type");
    }
    return static_cast<T>(i_);
  }
}

template uint8_t Value::as<uint8_t>(std::string_view) const;
template int8_t Value::as<int8_t>(std::string_view) const;
template uint16_t Value::as<uint16_t>(std::string_view) const;
template int16_t Value::as<int16_t>(std::string_view) const;
template uint32_t Value::as<uint32_t>(std::string_view) const;
template int32_t Value::as<int32_t>(std::string_view) const;
template uint64_t Value::as<uint64_t>(std::string_view) const;
template int64_t Value::as<int64_t>(std::string_view) const;
template float Value::as<float>(std::string_view) const;
template double Value::as<double>(std::string_view) const;
template bool Value::as<bool>(std::string_view) const;
template std::string Value::as<std::string>(std::string_view) const;

}  // namespace whale::gguf
