package persistence

import (
	"encoding/json"
	"fmt"
)

// recordFormatJSON is the leading format byte of account and project
// records. A later encoding gets a new byte and decodeRecord keeps reading
// the old one, so stores never need a migration to be opened.
const recordFormatJSON byte = 0x01

func encodeRecord(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{recordFormatJSON}, b...), nil
}

func decodeRecord(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("empty record")
	}
	switch b[0] {
	case recordFormatJSON:
		return json.Unmarshal(b[1:], v)
	default:
		return fmt.Errorf("unknown record format %#x", b[0])
	}
}
