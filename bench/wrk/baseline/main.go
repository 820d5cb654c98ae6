// Command baseline is the trivial httprouter handler that bench/wrk/ratio.sh
// measures beside invoiced in the same run: the HTTP ceiling of this machine
// for each mode, with no storage behind it.
//
// POST /api/v1/invoices decodes the body and echoes it (a copy of the
// customer's /work/shared/perf/baseline). GET /api/v1/invoices/:id answers
// a fixed invoice-sized document and GET /api/v1/invoices a fixed page of 20
// of them, both as bytes built once: the same HTTP work as invoiced's get
// and list, so the ratio charges invoiced for everything it does beyond it.
//
// Usage: baseline 127.0.0.1:PORT
package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// invoice is a real answer of GET /api/v1/invoices/:id (1,153 bytes).
const invoice = `{"invoice_id":"01a23b0f-9a3e-7878-9109-0a2ec7a93db7","user_id":"8a3c5c8b-00a7-4416-8b90-37a8778f99a0","project_id":"79e91dc1-af06-4635-a3b0-ebe81fa1f21c","order_id":"p-1","order_name":"","fiat_amount":null,"fiat_currency":null,"currency":"BTC","crypto_amount":0.001,"crypto_amount_in_units":100000,"actual_crypto_amount_paid":0,"actual_crypto_amount_paid_in_units":0,"allowed_error_percent":0,"expire_min":30,"callback_url":"http://127.0.0.1:9/cb","status":"new","created_at":"2026-12-03T08:40:07.998242625Z","updated_at":"2026-12-03T08:40:07.998242625Z","expires_at":"2026-12-03T09:10:07.998242625Z","exchange_rate":{"rate":"60000.00","fiat":"EUR","source":"static","at":"2026-12-03T08:40:05.989266836Z"},"checkout_url":"http://127.0.0.1:23456/i/01a23b0f-9a3e-7878-9109-0a2ec7a93db7","blockchain_details":{"currency":"BTC","blockchainAddress":"bcrt1qfemh02fh7zlvhyytatu6327kcdtmld08ndkud6","blockchainNetwork":{"name":"bitcoin","type":"utxo"},"payment_uri":"bitcoin:bcrt1qfemh02fh7zlvhyytatu6327kcdtmld08ndkud6?amount=0.001","qrcode":"http://127.0.0.1:23456/i/01a23b0f-9a3e-7878-9109-0a2ec7a93db7/qr.png","required_confirmations":1},"transactions":[]}`

func main() {
	one := []byte(invoice)
	page := []byte(`{"items":[` + strings.Repeat(invoice+",", 19) + invoice +
		`],"pagination":{"current_page":1,"page_size":20,"total_pages":500,"total_records":10000,"has_next":true,"has_previous":false}}`)
	fixed := func(body []byte) httprouter.Handle {
		n := strconv.Itoa(len(body))
		return func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", n)
			w.WriteHeader(200)
			w.Write(body)
		}
	}
	r := httprouter.New()
	r.POST("/api/v1/invoices", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		var in map[string]any
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(in)
	})
	r.GET("/api/v1/invoices/:id", fixed(one))
	r.GET("/api/v1/invoices", fixed(page))
	http.ListenAndServe(os.Args[1], r)
}
