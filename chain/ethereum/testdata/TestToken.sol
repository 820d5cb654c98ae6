// SPDX-License-Identifier: MIT
// TestToken is the smallest ERC-20 the chain/ethereum integration tests need:
// the whole supply is minted to the deployer, transfer reverts on an
// insufficient balance (a failed transfer for the tests), and transferBatch
// emits several Transfer logs from one transaction.
//
// Compiled once; the creation bytecode is kept in TestToken.bin so CI needs
// no compiler. To rebuild (the compiler version and settings are pinned, so
// the output is reproducible):
//
//	npm install solc@0.8.37
//	node compile-token.js > TestToken.bin
pragma solidity 0.8.37;

contract TestToken {
    string public constant name = "Test Tether";
    string public constant symbol = "USDT";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function transferBatch(address[] calldata to, uint256[] calldata value) external returns (bool) {
        require(to.length == value.length, "length mismatch");
        for (uint256 i = 0; i < to.length; i++) {
            _move(msg.sender, to[i], value[i]);
        }
        return true;
    }

    function _move(address from, address to, uint256 value) internal {
        require(balanceOf[from] >= value, "insufficient balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
